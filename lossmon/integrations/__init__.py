"""Callbacks that give Lightning and Hugging Face Trainer users the whole of lossmon.

Each module imports its framework, so `import lossmon` never does; install the extra
(`pip install 'lossmon[lightning]'` or `'lossmon[transformers]'`) for the one you use.
"""
