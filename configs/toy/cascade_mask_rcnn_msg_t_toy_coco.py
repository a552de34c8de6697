# The real Cascade Mask R-CNN MSG-Transformer-T config on the bundled toy
# COCO data (see _base_/toy_coco.py), trained from scratch (no ImageNet
# weights), with a micro arch (16-128 channels, one block a stage; the real
# regions, 4, 4, 2, 1 windows a side) so that an epoch takes seconds on 2
# CPU cores. The 128x128 images are padded to 224x224 inside the backbone.
_base_ = ['../cascade_mask_rcnn_msg_t_3x_ms_coco.py', './_base_/toy_coco.py']

micro_dims = [16, 32, 64, 128]
# The three cascade stages' box heads: 4conv1fc with GIoU as the real
# config, plain BN (SyncBN needs GPUs), three classes, narrower layers.
toy_bbox_heads = [
    dict(
        type='ConvFCBBoxHead',
        num_shared_convs=4,
        num_shared_fcs=1,
        in_channels=32,
        conv_out_channels=32,
        fc_out_channels=128,
        roi_feat_size=7,
        num_classes=3,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
    for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                 [0.033, 0.033, 0.067, 0.067])
]
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=micro_dims,
            num_heads=[1, 2, 4, 8],
            depths=[1, 1, 1, 1],
            region_sizes=[4, 4, 2, 1]),
        drop_path_rate=0.1,
        init_cfg=None),
    neck=dict(in_channels=micro_dims, out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=toy_bbox_heads,
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32, num_classes=3)),
    # A few objects an image: 100 proposals are plenty and keep the cascade's
    # three heads cheap.
    train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=100)),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100)))

train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.toy_evaluator}}
test_evaluator = val_evaluator
train_cfg = {{_base_.toy_train_cfg}}
param_scheduler = {{_base_.toy_param_scheduler}}
default_hooks = {{_base_.toy_default_hooks}}
log_processor = dict(window_size=10)
auto_scale_lr = dict(base_batch_size=4)

# Mixed precision (the real config's AmpOptimWrapper) needs a GPU.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=4e-4))
