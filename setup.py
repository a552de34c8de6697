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


setup(
    name='mmsepvit',
    version=read_version(),
    description='SepViT: Separable Vision Transformer for OpenMMLab 2.0 '
    '(mmdet, mmseg, mmpretrain)',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(include=['mmsepvit', 'mmsepvit.*']),
    install_requires=read_requirements(),
    # ONNX export (torch.onnx's dynamo exporter needs onnxscript) and the
    # ONNX Runtime and OpenVINO runs of mmsepvit.deployment and
    # tools/deployment/export_onnx.py; tools/env/pinned.txt has the tested
    # versions.
    extras_require={
        'deploy': [
            'onnx>=1.23,<2', 'onnxscript>=0.7,<1', 'onnxruntime>=1.32,<2',
            'openvino>=2026.4'
        ],
        # The sepvit_* timm entries (and through them transformers'
        # TimmBackbone), registered by `import mmsepvit`.
        'timm': ['timm>=1.0'],
    },
    license='Apache License 2.0',
    zip_safe=False,
)
