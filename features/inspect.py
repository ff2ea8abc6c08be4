"""Looking into a store: a readable summary, per-clip statistics, pictures, verification."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from avemo.errors import ClipNameError, StoreError
from avemo.features.reader import StoreReader
from avemo.features.schema import (BOOKKEEPING, DETECTED, FAILURES_FILE, INTERPOLATED, LOCATED, LOST, PARTIAL_SUFFIX,
                                   SCHEMA_VERSION, SHARD_PREFIX, SHARD_SUFFIX, TRACKED, read_index)
from avemo.features.writer import scan_shard
from avemo.fileio import atomic_path, file_sha256
from avemo.names import EMOTIONS, parse_clip_name


def _failures(root: Path) -> list[dict[str, str]]:
    path = root / FAILURES_FILE
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _crema_d_name(clip_id: str):
    try:
        return parse_clip_name(clip_id)
    except ClipNameError:
        return None


def summarize(root: str | Path) -> dict:
    """Machine-readable summary: clips, shards, bytes, datasets, classes, failures, params."""
    reader = StoreReader(root)
    root = Path(root)
    shards = [{"name": n, "rows": r, "bytes": (root / n).stat().st_size if (root / n).exists() else None}
              for n, r in sorted(reader.shards.items())]
    # a store holds no labels (the manifest does): CREMA-D's names say theirs, other ids do not
    named = [n for n in (_crema_d_name(c) for c in reader.clip_ids) if n is not None]
    classes = Counter(n.emotion for n in named)
    failures = _failures(root)
    rows_total = sum(s["rows"] for s in shards)
    return {
        "store": str(root), "modality": reader.modality, "schema_version": reader.meta["schema_version"],
        "clips": len(reader), "shards": shards, "bytes": sum(s["bytes"] or 0 for s in shards),
        "stale_rows": rows_total - len(reader),
        "checksummed_shards": len(set(read_index(root).get("shard_sha256", {})) & set(reader.shards)),
        "datasets": {s.name: {"shape": list(s.shape), "dtype": s.dtype} for s in reader.specs},
        "class_counts": {e: classes.get(e, 0) for e in EMOTIONS} if named else {},
        "failures": len(failures),
        "failures_by_kind": dict(sorted(Counter(f["kind"] for f in failures).items())),
        "params": reader.params, "versions": reader.meta.get("versions", {}),
    }


def format_summary(s: dict) -> str:
    """The summary as text a person can read."""
    mb = s["bytes"] / 1e6
    lines = [f"store      {s['store']}  ({s['modality']}, schema v{s['schema_version']})",
             f"clips      {s['clips']} in {len(s['shards'])} shard(s), {mb:.1f} MB"
             + (f", {s['stale_rows']} stale row(s) of re-extracted clips" if s["stale_rows"] else ""),
             f"checksums  {s['checksummed_shards']} of {len(s['shards'])} shard(s) have a recorded SHA-256 "
             "(`--verify` checks them and every chunk's Fletcher-32)",
             "datasets   " + "; ".join(f"{n} {tuple(d['shape'])} {d['dtype']}" for n, d in s["datasets"].items()),
             "classes    " + ("  ".join(f"{k} {v}" for k, v in s["class_counts"].items()) if s["class_counts"]
                                 else "(clip ids carry no label: see the corpus manifest)"),
             f"failures   {s['failures']}" + (" (" + ", ".join(f"{k}: {v}" for k, v in
                                                          s["failures_by_kind"].items()) + ")"
                                              if s["failures"] else ""),
             "params     " + ", ".join(f"{k}={v}" for k, v in s["params"].items()),
             "versions   " + ", ".join(f"{k} {v}" for k, v in s["versions"].items())]
    for sh in s["shards"]:
        lines.append(f"  {sh['name']}  {sh['rows']:>5} clips  {(sh['bytes'] or 0) / 1e6:8.1f} MB")
    return "\n".join(lines)


def clip_stats(root: str | Path, clip_id: str) -> dict:
    """Per-dataset shape, dtype, min, max, mean and std of one clip (plus detection rate)."""
    with StoreReader(root) as reader:
        arrays = reader.get(clip_id)
        entry = reader.entry(clip_id)
    out = {"clip_id": clip_id, "shard": entry["shard"], "row": entry["row"],
           "source_sha256": entry["sha256"], "source_bytes": entry["bytes"], "datasets": {}}
    for name, a in arrays.items():
        f = a.astype(np.float64)
        out["datasets"][name] = {"shape": list(a.shape), "dtype": str(a.dtype), "min": float(f.min()),
                                 "max": float(f.max()), "mean": float(f.mean()), "std": float(f.std())}
    if "detected" in arrays:
        out["detected_frames"] = int(arrays["detected"].sum())
    if "located" in arrays:
        counts = np.bincount(arrays["located"], minlength=len(LOCATED))
        out["located_frames"] = {name: int(counts[code]) for code, name in enumerate(LOCATED)}
    return out


def frame_codes(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Per frame, how its box was found (:data:`LOCATED` codes); stores without ``located``
    (face algorithm 4 and older) know only detected or not (the rest: interpolated)."""
    if "located" in arrays:
        return arrays["located"]
    return np.where(arrays["detected"], DETECTED, INTERPOLATED).astype(np.uint8)


#: Colour of each :data:`LOCATED` code in pictures of a clip.
CODE_COLOURS = {LOST: "tab:red", INTERPOLATED: "tab:gray", TRACKED: "tab:blue", DETECTED: "tab:green"}


def format_clip_stats(s: dict) -> str:
    lines = [f"clip {s['clip_id']}  ({s['shard']} row {s['row']}, source {s['source_bytes']} bytes, "
             f"sha256 {s['source_sha256'][:12]}...)"]
    for name, d in s["datasets"].items():
        lines.append(f"  {name:<9} {str(tuple(d['shape'])):<18} {d['dtype']:<8} min {d['min']:10.3f}  "
                     f"max {d['max']:10.3f}  mean {d['mean']:10.3f}  std {d['std']:9.3f}")
    if "located_frames" in s:
        lines.append("  face boxes: " + ", ".join(f"{n} {name}" for name, n in s["located_frames"].items())
                     + " frame(s)" + (" -- the face was lost on some frames" if s["located_frames"]["lost"] else ""))
    elif "detected_frames" in s:
        lines.append(f"  face detected in {s['detected_frames']} of the sampled frames (others tracked or interpolated)")
    return "\n".join(lines)


def draw_clip(root: str | Path, clip_id: str, png: str | Path,
              source_frames: Callable[[str, int], list[np.ndarray] | None] | None = None) -> Path:
    """A picture of one clip: MFCC windows as heat maps, face crops with detection flags, or
    backbone embeddings as heat maps (time x unit).

    ``source_frames(path, n)``: the clip's ``n`` sampled source frames as RGB arrays, or None
    when they cannot be had; given, a faces picture also shows four of them with their boxes
    (the store does not decode video itself)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with StoreReader(root) as reader:
        arrays = reader.get(clip_id)
        modality = reader.modality
        source = reader.entry(clip_id).get("source", "")
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    if "mfcc" in arrays:
        m = arrays["mfcc"]
        cols = int(np.ceil(np.sqrt(len(m))))
        rows = int(np.ceil(len(m) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.6 * rows), squeeze=False,
                                 constrained_layout=True)
        # Coefficient 0 (log energy) is an order of magnitude larger: robust limits keep the rest visible.
        lo, hi = (float(v) for v in np.percentile(m, [2, 98]))
        for k, ax in enumerate(axes.flat):
            if k >= len(m):
                ax.axis("off")
                continue
            im = ax.imshow(m[k].T, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi)
            ax.set_title(f"window {k}", fontsize=9)
            ax.set_xlabel("frame", fontsize=8)
            ax.set_ylabel("MFCC", fontsize=8)
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="MFCC value (2nd-98th percentile)")
    elif "frames" in arrays:
        frames, boxes, codes = arrays["frames"], arrays["boxes"], frame_codes(arrays)
        cols = 10
        rows = int(np.ceil(len(frames) / cols))
        sources = source_frames(source, len(frames)) if source and source_frames else None
        fig = plt.figure(figsize=(1.3 * cols, 1.45 * rows + (3.2 if sources else 0)), constrained_layout=True)
        grid = fig.add_gridspec(rows + (2 if sources else 0), cols)
        for k in range(len(frames)):
            ax = fig.add_subplot(grid[k // cols, k % cols])
            ax.imshow(frames[k])
            ax.set_xticks([])
            ax.set_yticks([])
            color = CODE_COLOURS[int(codes[k])]
            for side in ax.spines.values():
                side.set_edgecolor(color)
                side.set_linewidth(2.5)
            ax.set_title(f"{k} {LOCATED[int(codes[k])][:6]}", fontsize=7, color=color)
        if sources:
            for j, k in enumerate(np.linspace(0, len(frames) - 1, 4).round().astype(int)):
                ax = fig.add_subplot(grid[rows:, j * cols // 4:(j + 1) * cols // 4])
                ax.imshow(sources[k])
                x0, y0, x1, y1 = boxes[k]
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5,
                                           color=CODE_COLOURS[int(codes[k])]))
                ax.set_title(f"sampled frame {k}, face box in source", fontsize=8)
                ax.axis("off")
    elif "face_emb" in arrays:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [len(arrays["face_emb"]), 3 * len(arrays["audio_emb"])]})
        for ax, name, what in zip(axes, ("face_emb", "audio_emb"), ("face frame", "MFCC window")):
            im = ax.imshow(arrays[name].T, origin="lower", aspect="auto", cmap="viridis")
            ax.set_title(f"{name}: backbone output per {what}", fontsize=9)
            ax.set_xlabel(what, fontsize=8)
            ax.set_ylabel("embedding unit", fontsize=8)
            fig.colorbar(im, ax=ax, shrink=0.8)
    else:
        raise StoreError(f"store {root} ({modality}) has nothing avemo can draw")
    title = f"{clip_id} ({modality})"
    if "detected" in arrays:
        title += (": face box detected (green), tracked (blue), interpolated (grey) or lost (red)"
                  if "located" in arrays else ": green = face detected in that frame, blue = box tracked or interpolated")
    fig.suptitle(title)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return png


def verify(root: str | Path) -> list[str]:
    """Re-read every shard (every chunk's checksum) and compare each file with the SHA-256 recorded
    when it was published; return problems, each naming the file at fault (empty: all good).
    Shards written before checksums (avemo 0.1.0) get the structural checks only."""
    root = Path(root)
    reader = StoreReader(root)
    problems: list[str] = []
    if reader.meta.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"{root}/store.json: schema version {reader.meta.get('schema_version')}, "
                        f"this avemo reads {SCHEMA_VERSION}")
    for partial in sorted(root.glob(f"*{PARTIAL_SUFFIX}")):
        problems.append(f"{partial}: unfinished shard of an interrupted run (the next run removes it)")
    on_disk = sorted(p.name for p in root.glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}"))
    index = read_index(root)
    for name in sorted(set(index["shards"]) - set(on_disk)):
        problems.append(f"{root / name}: listed in index.json but missing")
    digests = index.get("shard_sha256", {})
    for name in on_disk:
        path = root / name
        if name not in index["shards"]:
            problems.append(f"{path}: not in index.json (the next extraction run adds it)")
        if name in digests and file_sha256(path) != digests[name]:
            problems.append(f"{path}: SHA-256 differs from the one recorded when it was written (index.json): "
                            "the file changed since (a damaged disk or copy); delete it and re-run the "
                            "extraction to redo its clips")
        try:
            ids, _, _ = scan_shard(path)
            with h5py.File(path, "r") as f:
                for spec in reader.specs:
                    ds = f[spec.name]
                    if ds.shape != (len(ids), *spec.shape) or ds.dtype != np.dtype(spec.dtype):
                        problems.append(f"{path}: dataset {spec.name} is {ds.shape} {ds.dtype}, expected "
                                        f"({len(ids)}, {', '.join(map(str, spec.shape))}) {spec.dtype}")
                        continue
                    for row in range(len(ids)):
                        ds[row]  # reads every chunk: its checksum, and truncated files
                for extra in BOOKKEEPING:
                    if f[extra].shape != (len(ids),):
                        problems.append(f"{path}: {extra} has {f[extra].shape[0]} rows, clip_id {len(ids)}")
                    f[extra][()]
        except (StoreError, OSError, KeyError, ValueError) as exc:
            problems.append(f"{path}: cannot be read ({exc})")
            continue
        if name in index["shards"] and index["shards"][name] != len(ids):
            problems.append(f"{path}: index.json says {index['shards'][name]} rows, the file has {len(ids)}")
        for clip, entry in index["clips"].items():
            if entry["shard"] == name and (entry["row"] >= len(ids) or ids[entry["row"]] != clip):
                problems.append(f"{path}: index.json puts {clip} at row {entry['row']}, which holds "
                                f"{ids[entry['row']] if entry['row'] < len(ids) else 'nothing'}")
    return problems
