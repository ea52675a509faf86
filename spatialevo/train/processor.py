"""Qwen2.5-VL processor without the video part, for installs without torchvision.

transformers builds ``Qwen2_5_VLProcessor`` from an image processor, a tokenizer and a video
processor; the only Qwen2-VL video processor needs torchvision, and PyPI's torchvision wheels do
not import beside the CPU torch wheel. Without torchvision neither the processor nor
``AutoProcessor.from_pretrained`` on a Qwen2.5-VL checkpoint works. This subclass drops the video
processor (``ProcessorMixin`` derives its parts from the ``__init__`` signature) and keeps the
rest: chat template, ``<|image_pad|>`` expansion, ``image_grid_thw``. Videos are not supported.
Importing this module registers it with ``AutoProcessor``.
"""

from __future__ import annotations

from transformers import AutoProcessor, Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor


class Qwen2_5_VLImageOnlyProcessor(Qwen2_5_VLProcessor):
    """``Qwen2_5_VLProcessor`` with images and text only (no video processor)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):  # noqa: ANN001
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=chat_template, **kwargs)


AutoProcessor.register(Qwen2_5_VLConfig, Qwen2_5_VLImageOnlyProcessor, exist_ok=True)


def load_processor(path: str):  # noqa: ANN201
    """``AutoProcessor`` for a local checkpoint, falling back to the image-only Qwen2.5-VL
    processor when the full one cannot be built (no torchvision). Left padding is set, as GRPO
    needs (right padding silently misplaces image tokens)."""
    try:
        proc = AutoProcessor.from_pretrained(path, padding_side="left")
    except (ImportError, ValueError, TypeError, OSError):
        from transformers import AutoImageProcessor, AutoTokenizer

        image = AutoImageProcessor.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path, padding_side="left")
        proc = Qwen2_5_VLImageOnlyProcessor(image_processor=image, tokenizer=tok, chat_template=getattr(tok, "chat_template", None))
    tok = getattr(proc, "tokenizer", proc)
    tok.padding_side = "left"
    return proc
