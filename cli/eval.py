"""`comet eval MODEL --dataset NAME`: the paper's metrics with trivial baselines beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ._choices import Readout, Split
from ._console import console, errors, parse_key_values, plain


def evaluate(
    model: str = typer.Argument(..., help="Zoo name[@version] or a local model folder (COMET, beta-vae, slot-attention)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset plugin, e.g. clevr, clevr-lighting, "
                                          "falcor; default: the one the model was trained on (its recipe.json)."),
    data: List[str] = typer.Option([], "--data", help="Evaluate on your images instead: a folder, hf:ORG/NAME, a "
                                   "save_to_disk folder or parquet files (their test split)."),
    split: Split = typer.Option(Split.test, "--split", help="train or test."),
    n: Optional[int] = typer.Option(None, "--n", help="Number of scenes (default 1000; for a collection of images, "
                                    "all of its split up to 1000)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the scenes, x_0 and baselines."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma list of reconstruction, segmentation, "
                                          "disentanglement, recombination; default: all the data allows."),
    option: List[str] = typer.Option([], "--option", "-O", help="Dataset option KEY=VALUE (repeatable), e.g. max_objects=3."),
    resize: bool = typer.Option(False, "--resize", help="Resize renders whose size differs from the model's instead of failing."),
    pairs: int = typer.Option(16, "--pairs", help="Scene pairs for recombination."),
    readout: Optional[Readout] = typer.Option(None, "--readout", help="COMET segmentation from its gradient maps; default: "
                                "the read-out the model's card measured its metrics with, else clean. clean (smoothed, "
                                "weak pixels to background), smooth (smoothed, every pixel to a component: for a "
                                "background with strong gradients, e.g. Tetrominoes' black) or argmax (the paper's, "
                                "raw maps, every pixel to a component)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Override: pixels whose strongest gradient is below "
                                              "this fraction of the image's peak are background."),
    smooth: Optional[int] = typer.Option(None, "--smooth", help="Override: average the gradient maps over (2R+1)² first."),
    refine: Optional[int] = typer.Option(None, "--refine", help="COMET: Adam steps on the encoder's latents towards "
                                         "reconstructing each image; default: the model's config (refine_steps), "
                                         "0 = the encoder's guess as it is."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per forward pass."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full report as JSON."),
    card: bool = typer.Option(False, "--card", help="Write the metrics into the model folder's card (README.md)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
) -> None:
    """Score a model on a dataset split: segmentation (with stripes / k-means baselines),
    reconstruction, disentanglement and recombination against rendered truth."""
    from comet_zoo._io import atomic_path
    from comet_zoo.architectures import resolve_model
    from comet_zoo.core.device import resolve_device
    from comet_zoo.errors import CometError
    from comet_zoo.eval.evaluate import evaluate as run
    from comet_zoo.eval.evaluate import flat_metrics, parse_groups, training_options

    import dataclasses

    from comet_zoo.eval.segment import CLEAN, READOUTS
    from comet_zoo.eval.segment import Readout as ReadoutSpec

    split = split.value
    tuned = {key: v for key, v in (("threshold", threshold), ("smooth", smooth)) if v is not None}
    groups = parse_groups(metrics)
    if json_out is not None:
        from comet_zoo._io import check_writable

        check_writable(json_out, ".json")
    from comet_zoo.hub.names import parse_ref

    if card and parse_ref(model).path is None:
        raise CometError(f"--card writes into a local model folder's card; {model} is a zoo snapshot checked "
                         "against its SHA256SUMS (evaluate a local model folder instead)")
    net, folder = resolve_model(model, resolve_device(device))
    if refine is not None:
        from comet_zoo.architectures import kind_of

        if kind_of(net) != "comet":
            raise CometError(f"--refine refines a COMET's latents; {model} is a {kind_of(net)} model")
        net.config.refine_steps = refine
        net.config.validate()
    from comet_zoo.hub.cards import card_readout

    # The card's read-out reproduces the card's numbers (e.g. tetrominoes: smooth, its black background).
    if readout is not None:
        base = READOUTS[readout.value]
    elif (recorded := card_readout(folder)) is not None:   # the card is read only when no --readout is given
        base = ReadoutSpec.from_dict(recorded, f"{folder}/README.md: segmentation_readout")
    else:
        base = CLEAN
    chosen = dataclasses.replace(base, **tuned)
    from comet_zoo.eval.evaluate import default_scene_count, trained_dataset

    if data and dataset is not None:
        raise CometError("give --dataset or --data, not both")
    if data:
        from comet_zoo.train.recipe import data_spec

        dataset, data_options = data_spec(data)
    else:
        data_options = {}
        if dataset is None:
            dataset = trained_dataset(folder)
            if dataset is None:
                raise CometError(f"{model} does not record the data set it was trained on; name one with --dataset "
                                 "or --data")
    trained, given = training_options(folder, dataset), {**data_options, **parse_key_values(option)}
    overrides = {k: v for k, v in given.items() if k in trained and trained[k] != v}
    for key, value in overrides.items():  # allowed, but never silent: it may score training data
        errors.print(f"warning: --option {key}={value} overrides the value the model was trained with "
                     f"({trained[key]!r})", soft_wrap=True)
    options = {**trained, **given}
    if n is None:
        n = default_scene_count(dataset, net.config.image_size, split, options)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("evaluating", total=None)
        report = run(net, dataset, split=split, n=n, seed=seed, options=options, metrics=groups, resize=resize,
                     batch_size=batch_size, pairs=pairs, readout=chosen,
                     on_stage=lambda text: progress.update(task, description=text),
                     on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    report["model"]["ref"] = model
    report["dataset"]["trained_options"], report["dataset"]["overrides"] = trained, overrides
    _print(report)
    if json_out is not None:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"report → {json_out}")
    if card:
        from comet_zoo.hub.cards import write_metrics

        path = write_metrics(folder, flat_metrics(report), dataset=dataset, split=split, n=report["dataset"]["n"],
                             readout=(report.get("segmentation") or {}).get("readout"))
        console.print(f"metrics → {path}")


def _print(report: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from comet_zoo.eval.baselines.trivial import BASELINE_ROWS

    d, m = report["dataset"], report["model"]
    console.print(Text.assemble((m["kind"], "bold"), f" ({m['parameters']:,} parameters, {m['image_size']}px, "
                                f"K={m['num_components']}"
                                + (f", latents refined {m['refine_steps']} steps" if m.get("refine_steps") else "")
                                + f") on {d['n']} {d['split']} scenes of ",
                                (plain(d["name"]), "bold"), f" in {report['seconds']:.0f} s"))
    seg = report.get("segmentation")
    if seg:
        t = Table(title=f"segmentation (K = {seg['k']}; baselines use the same K)")
        for col in ("", "fg-ARI", "ARI", "MSC", "WSC"):
            t.add_column(col, justify="right" if col else "left")
        ro = seg.get("readout")
        name = m["kind"] + (f" (smooth {ro['smooth']}, threshold {ro['threshold']}, vote {ro['vote']})" if ro else "")
        rows = (("model", name), ("argmax", f"{m['kind']}, the paper's argmax"),
                *((key, label) for key, label, _ in BASELINE_ROWS))
        for row, label in ((row, label) for row, label in rows if row in seg):
            s = seg[row]
            t.add_row(label, *(f"{s[k]:.3f}" for k in ("fg_ari", "ari", "msc", "wsc")), style="bold" if row == "model" else "dim")
        console.print(t)
        roles = seg.get("components")
        if roles:
            within = " within the objects' pixels" if roles.get("iou_within") == "objects" else ""
            t = Table(title=f"what each component wins: its best IoU with an object{within} and how often that IoU is "
                            ">= 0.5 (the read-out above); its share of the background and of the image (the paper's argmax)")
            for col in ("component", "object IoU", "binds", "background", "area", "suggested name"):
                t.add_column(col, justify="left" if col in ("component", "suggested name") else "right")
            for j, name in enumerate(roles["names"]):
                t.add_row(str(j), *(f"{roles[key][j]:.2f}" for key in ("object_iou", "binds", "background", "area")), name)
            console.print(t)
    r = report["reconstruction"]
    t = Table(title="reconstruction")
    for col in ("MSE", "PSNR (dB)", "SSIM", "MSE of the mean image"):
        t.add_column(col, justify="right")
    t.add_row(f"{r['mse']:.5f}", f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", f"{r['mse_mean_image']:.5f}")
    console.print(t)
    dis = report.get("disentanglement")
    if dis:
        t = Table(title=f"disentanglement (latents flattened, PCA to {dis['pca_dim']})")
        keys = ("betavae", "mig", "mcc", "dci_disentanglement", "dci_completeness", "dci_informativeness")
        t.add_column("")
        for col in ("BetaVAE", "MIG", "MCC", "DCI-D", "DCI-C", "DCI-I"):
            t.add_column(col, justify="right")
        t.add_row(m["kind"], *(f"{dis[k]:.3f}" for k in keys), style="bold")
        for name, label in (("random_init", "same model, untrained"), ("random_projection", "random projection")):
            if name in dis.get("baselines", {}):
                t.add_row(label, *(f"{dis['baselines'][name][k]:.3f}" for k in keys), style="dim")
        console.print(t)
        comp = dis.get("component_r2")
        if comp:
            t = Table(title="what each component encodes (held-out R² of each factor from that component's latent)")
            t.add_column("component")
            for f in comp["factors"]:
                t.add_column(f, justify="right")
            for k, row in enumerate(comp["r2"]):
                best = max(range(len(row)), key=row.__getitem__)
                t.add_row(str(k), *(Text(f"{v:.2f}", style="bold" if j == best else "") for j, v in enumerate(row)))
            console.print(t)
    rec = report.get("recombination")
    if rec:
        t = Table(title="recombination vs rendered truth")
        for col in ("swap", "image", "PSNR (dB)", "SSIM", "pairs"):
            t.add_column(col, justify="left" if col in ("swap", "image") else "right")
        for swap, rows in rec.items():
            if not isinstance(rows, dict) or swap == "components":
                continue
            for row, s in rows.items():
                if isinstance(s, dict):
                    label = f"{row} (component {s['component']})" if "component" in s else row
                    t.add_row(swap, label, f"{s['psnr']:.2f}", f"{s['ssim']:.3f}", str(rows["n"]),
                              style="bold" if row == "composed" else "dim")
        console.print(t)
    effects = (rec or {}).get("components")
    if effects:
        t = Table(title=f"what each component controls: PSNR gain (dB) towards A re-rendered with B's part, "
                        f"when B's component replaces A's ({effects['n']} pairs)")
        t.add_column("component")
        for g in effects["groups"]:
            t.add_column(f"B's {g}", justify="right")
        for k, gains in effects["psnr_gain_db"].items():
            best = max(gains, key=gains.get)
            t.add_row(k, *(Text(f"{gains[g]:+.2f}", style="bold" if g == best else "") for g in effects["groups"]))
        console.print(t)
