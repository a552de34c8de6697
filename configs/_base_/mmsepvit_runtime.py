# What every mmsepvit config needs, whichever script runs it (tools/train.py,
# mmdet's, mmseg's or mmpretrain's own tools, mim): SepViT registered, and
# the Runner with exact resume, crash-safe saves, checked loading and CPU
# multi-process runs (mmsepvit.engine.SafeRunner).
custom_imports = dict(imports=['mmsepvit'], allow_failed_imports=False)
runner_type = 'SafeRunner'
