"""A tiny, randomly initialised Qwen2.5-VL model and processor, built offline.

For tests, the ``cpu-smoke`` config and benchmarks: the architecture of the default policy family
(vision tower, merger, M-RoPE text model) at a few hundred thousand parameters, with a byte-level
BPE tokenizer trained locally on a small corpus and the Qwen special tokens. Nothing is downloaded.
A 56–84 px image becomes a 4×4 patch grid and 4 ``<|image_pad|>`` tokens.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from spatialevo.train.processor import Qwen2_5_VLImageOnlyProcessor

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Simplified Qwen2-VL / Qwen2.5-VL chat template: string content or a list of typed content blocks;
# each image block becomes <|vision_start|><|image_pad|><|vision_end|> (the processor then expands the single
# <|image_pad|> into grid_t*grid_h*grid_w/merge_size**2 copies).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n"
    "{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}"
    "{{ content['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "What colour is the square in the image? The square is red.",
    "Describe the image. It shows a blue circle on a white background.",
    "How many objects are there? There are three objects.",
    "Answer with yes or no. Yes. No.",
    "The answer is 42. The answer is 7. The answer is 0.",
    "red green blue yellow black white left right top bottom",
    "A cat sits on a mat. A dog runs in the park.",
    "Please think step by step and give the final answer.",
    "<think> reasoning </think> <answer> result </answer>",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000",
    "You are a helpful assistant.",
    "system user assistant",
    '{"task": "object_size", "objects": ["chair"], "frames": [], "params": {}}',
    "questioner solver question answer valid invalid reason label_absent ambiguous_label",
    "left right front back front-left front-right back-left back-right higher lower same neither image1 image2",
    "metres centimetres square metres distance size room chair table sofa bed lamp door window",
]


def _build_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)

    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],  # everything except pad/eos already given
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    return hf_tok


def make_tiny_qwen25vl(
    path: str | os.PathLike,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden: int = 32,
    vision_depth: int = 2,
    min_pixels: int = 56 * 56,
    max_pixels: int = 84 * 84,
    seed: int = 0,
):
    """Build and save (model, processor) to `path`. Returns (model, processor).

    With the defaults a 56x56 or 64x64 image -> 56x56 after smart_resize -> grid (1, 4, 4) = 16 patches
    -> 16 / merge_size**2 = 4 <|image_pad|> tokens in the prompt. pixel_values rows have 3*2*14*14 = 1176 values.
    """
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    os.makedirs(path, exist_ok=True)
    tokenizer = _build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = _tiny_config(ids, len(tokenizer), hidden_size, num_layers, num_heads, vision_hidden, vision_depth)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32)
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
    )

    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        patch_size=14,
        temporal_patch_size=2,
        merge_size=2,
    )
    # No torchvision -> no video processor -> use the image-only subclass (see qwen25vl_image_only_processor.py;
    # it is registered for AutoProcessor, so save_pretrained copies its module file and writes an `auto_map`).
    processor = Qwen2_5_VLImageOnlyProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )

    model.save_pretrained(path)
    processor.save_pretrained(path)
    return model, processor


def _tiny_config(ids: dict[str, int], vocab_size: int, hidden_size: int, num_layers: int, num_heads: int,
                 vision_hidden: int, vision_depth: int) -> Any:
    """The ``Qwen2_5_VLConfig`` of :func:`make_tiny_qwen25vl` (``ids``: the special tokens' ids)."""
    from transformers import Qwen2_5_VLConfig

    # round up so the embedding has a little slack (also a multiple of 64)
    vocab_size_padded = ((vocab_size + 63) // 64) * 64
    head_dim = hidden_size // num_heads
    # mrope_section (temporal, height, width) must sum to head_dim // 2
    half = head_dim // 2
    mrope_section = [half - 2 * (half // 3), half // 3, half // 3]
    text_config = dict(
        vocab_size=vocab_size_padded,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    vision_config = dict(
        depth=vision_depth,
        hidden_size=vision_hidden,
        intermediate_size=vision_hidden * 2,
        num_heads=2,
        in_channels=3,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        out_hidden_size=hidden_size,
        fullatt_block_indexes=[vision_depth - 1],
        tokens_per_second=2,
    )
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
