# Dual-ViT-B as the backbone of the detection and segmentation configs (see
# ./dualvit_s_dense.py for the release's detection and segmentation
# settings); drop path 0.15 for detection, 0.3 for segmentation.
_base_ = './mmsepvit_runtime.py'

dualvit_b_checkpoint = 'checkpoints/dualvit_b_in1k.pth'
dualvit_b = dict(
    _delete_=True,
    type='DualViT',
    arch='base',
    drop_path_rate=0.15,
    init_cfg=dict(
        type='Pretrained', checkpoint=dualvit_b_checkpoint,
        prefix='backbone.'))
dualvit_b_det = dict(
    dualvit_b, norm_cfg=dict(type='BN', requires_grad=False), norm_eval=False)
dualvit_b_seg = dict(
    dualvit_b,
    drop_path_rate=0.3,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    eval_tile_size=768)
dualvit_b_channels = [64, 128, 320, 512]
no_decay_keys = {'norm': dict(decay_mult=0.)}
