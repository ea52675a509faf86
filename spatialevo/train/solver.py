"""The policy as a solver: frames and questions in, sampled or greedy answers out.

One place for what the launcher (the informativeness solver groups) and ``spatialevo eval``
both do: a frame as the square image the policy sees, the solver prompt with its images through
the processor's chat template, generation, decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spatialevo.prompts import solver_prompt
from spatialevo.scene.model import Scene


def frame_image(scene: Scene, frame_id: str, size: int) -> Any:
    """The frame's RGB as a square ``size`` × ``size`` PIL image (bilinear), as the policy sees it."""
    from PIL import Image

    rgb = scene.frame_images(frame_id, ("rgb",))["rgb"]
    return Image.fromarray(rgb).resize((size, size), Image.BILINEAR)


def answer(model: Any, processor: Any, questions: Sequence[str], images: Sequence[Sequence[Any]], *, n: int = 1,
           max_new_tokens: int = 64, do_sample: bool = False, synced_gpus: bool = False) -> list[list[str]]:
    """``n`` answers of ``model`` per question (rendered question text, with its images), from
    the solver prompt. Image tokens are never generated."""
    import torch

    prompts = []
    for text, imgs in zip(questions, images):
        content = [*({"type": "image"} for _ in imgs), {"type": "text", "text": solver_prompt(text, len(imgs))}]
        prompts.append(processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True))
    inputs = processor(text=prompts, images=[list(i) for i in images], return_tensors="pt", padding=True).to(model.device)
    image_token = getattr(model.config, "image_token_id", None)
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=do_sample, num_return_sequences=n, max_new_tokens=max_new_tokens,
                             suppress_tokens=[image_token] if image_token is not None else None, synced_gpus=synced_gpus)
    texts = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return [texts[i * n : (i + 1) * n] for i in range(len(questions))]
