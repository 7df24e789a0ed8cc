"""The vLLM check of the GPU machine (run by scripts/gpu-check.sh when vLLM is installed there):
a tiny Llama with random weights, written locally (no download), loaded by vLLM twice — the
plain directory with ``load_format="safetensors"`` and the sealed one with ``load_format="coco"``
(this wheel's plugin) — and the greedy outputs compared token for token.

usage: vllm_check.py WORKDIR
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

import coco


def tiny_llama(d: str) -> None:
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
        "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5, "torch_dtype": "float16", "tie_word_embeddings": False,
    }
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    g = torch.Generator().manual_seed(0)
    h, i, v, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    w = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,), "lm_head.weight": (v, h)}
    for layer in range(n):
        p = f"model.layers.{layer}."
        w.update({p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (h, h),
                  p + "self_attn.v_proj.weight": (h, h), p + "self_attn.o_proj.weight": (h, h),
                  p + "mlp.gate_proj.weight": (i, h), p + "mlp.up_proj.weight": (i, h),
                  p + "mlp.down_proj.weight": (h, i), p + "input_layernorm.weight": (h,),
                  p + "post_attention_layernorm.weight": (h,)})
    tensors = {k: (torch.randn(s, generator=g) * 0.05).to(torch.float16) for k, s in w.items()}
    save_file(tensors, os.path.join(d, "model.safetensors"))


def main() -> None:
    from vllm import LLM, SamplingParams

    work = sys.argv[1]
    plain, sealed = os.path.join(work, "tiny"), os.path.join(work, "tiny.sealed")
    tiny_llama(plain)
    key = coco.generate_key()
    with open(os.path.join(work, "dek"), "wb") as f:
        f.write(key)
    coco.seal_dir(plain, sealed, key, "check/tiny@1")
    prompts = [[1, 15043, 29892, 590], [1, 450, 4996, 17354]]
    params = SamplingParams(temperature=0.0, max_tokens=16)
    outs = {}
    for fmt, path, extra in [
        ("safetensors", plain, None),
        ("coco", sealed, {"key_file": os.path.join(work, "dek")}),
    ]:
        llm = LLM(model=path, load_format=fmt, model_loader_extra_config=extra,
                  hf_config_path=plain, tokenizer=None, skip_tokenizer_init=True,
                  enforce_eager=True, gpu_memory_utilization=0.3, dtype="float16")
        res = llm.generate([{"prompt_token_ids": p} for p in prompts], params)
        outs[fmt] = [list(r.outputs[0].token_ids) for r in res]
        del llm
        torch.cuda.empty_cache()
    same = outs["safetensors"] == outs["coco"]
    print(json.dumps({"vllm_greedy_identical": same, "tokens": outs}))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
