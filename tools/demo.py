# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Build the SepViT backbones, report their sizes, and run SepViT-T on a
COCO-sized input."""
import time

import torch

from mmsepvit.models import SepViT


def main() -> None:
    torch.manual_seed(0)
    for arch in ('lite', 'tiny', 'small', 'base'):
        with torch.device('meta'):
            model = SepViT(arch=arch)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f'SepViT-{arch:5s} dense backbone: {params:7.3f} M parameters')

    model = SepViT(arch='tiny')
    model.init_weights()
    model.eval()
    image = torch.randn(1, 3, 800, 1280)
    with torch.no_grad():
        model(image)  # warm-up
        start = time.perf_counter()
        outs = model(image)
        seconds = time.perf_counter() - start
    print(f'SepViT-T on 1x3x800x1280 ({torch.get_num_threads()} threads): '
          f'{seconds:.2f} s')
    for stride, out in zip((4, 8, 16, 32), outs):
        print(f'  stride {stride:2d}: {tuple(out.shape)}')


if __name__ == '__main__':
    main()
