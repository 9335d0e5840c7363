"""Training, evaluation, ONNX export and model card; needs the ``[train]`` extra.

Import the submodules directly (``refusal_detector.training.export``); this package imports nothing.
"""
