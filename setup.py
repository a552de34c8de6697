from setuptools import find_packages, setup


def read_requirements(path: str = 'requirements.txt') -> list:
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def read_version(path: str = 'mmsepvit/version.py') -> str:
    namespace: dict = {}
    with open(path) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


# What mmcv's ops and the OpenMMLab codebases need beside the core; the
# ranges mmdet 3.3 and mmsegmentation 1.2 accept.
OPENMMLAB = ['mmcv>=2.0.0rc4,<2.2.0', 'torchvision>=0.15']
EXTRAS = {
    # The sepvit_* timm entries (and through them transformers'
    # TimmBackbone), registered by `import mmsepvit` where timm is installed.
    'timm': ['timm>=1.0'],
    'det': [*OPENMMLAB, 'mmdet>=3.3.0,<3.4'],
    # mmsegmentation's text models import ftfy and regex at registry scan.
    'seg': [*OPENMMLAB, 'mmsegmentation>=1.2.0,<1.3', 'ftfy', 'regex'],
    'cls': [*OPENMMLAB, 'mmpretrain>=1.2.0,<1.3'],
    # ONNX export (torch.onnx's dynamo exporter needs onnxscript), ONNX
    # Runtime and OpenVINO: mmsepvit.deploy, tools/deployment/export_onnx.py;
    # NNCF: INT8 quantization, tools/deployment/quantize.py.
    'deploy': [
        'onnx>=1.23,<2', 'onnxscript>=0.7,<1', 'onnxruntime>=1.32,<2',
        'openvino>=2026.4', 'nncf>=3.4,<4'
    ],
    # The test suite also drives openmim's `mim`.
    'tests': ['pytest', 'openmim'],
}
EXTRAS['all'] = sorted({
    req
    for name in ('timm', 'det', 'seg', 'cls', 'deploy')
    for req in EXTRAS[name]
})

setup(
    name='mmsepvit',
    version=read_version(),
    description='SepViT: Separable Vision Transformer for OpenMMLab 2.0 '
    '(mmdet, mmseg, mmpretrain)',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(include=['mmsepvit', 'mmsepvit.*']),
    # The model itself: torch, numpy and mmengine, which the backbone
    # module imports. The rest is in extras.
    install_requires=read_requirements(),
    extras_require=EXTRAS,
    license='Apache License 2.0',
    zip_safe=False,
)
