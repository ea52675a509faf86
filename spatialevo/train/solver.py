"""The policy as a solver: frames and questions in, sampled or greedy answers out.

One place for what the launcher (the informativeness solver groups) and ``spatialevo eval``
both do with a solver turn of the round (:meth:`spatialevo.selfplay.Round.solver_turn`: its prompt
and images): the chat template, generation, decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pil_images(images: Sequence[np.ndarray]) -> list[Any]:
    """The round's images (uint8 arrays at the policy's size) as PIL images for the processor."""
    from PIL import Image

    return [Image.fromarray(np.asarray(img)) for img in images]


def answer(model: Any, processor: Any, prompts: Sequence[str], images: Sequence[Sequence[Any]], *, n: int = 1,
           max_new_tokens: int = 64, do_sample: bool = False, synced_gpus: bool = False) -> list[list[str]]:
    """``n`` answers of ``model`` per solver prompt (a :class:`~spatialevo.selfplay.Turn`'s
    ``prompt``, with its images as PIL images). Image tokens are never generated."""
    import torch

    texts_in = []
    for text, imgs in zip(prompts, images):
        content = [*({"type": "image"} for _ in imgs), {"type": "text", "text": text}]
        texts_in.append(processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True))
    inputs = processor(text=texts_in, images=[list(i) for i in images], return_tensors="pt", padding=True).to(model.device)
    image_token = getattr(model.config, "image_token_id", None)
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=do_sample, num_return_sequences=n, max_new_tokens=max_new_tokens,
                             suppress_tokens=[image_token] if image_token is not None else None, synced_gpus=synced_gpus)
    texts = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]
