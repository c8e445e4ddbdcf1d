"""The text of ``docs/crnn-paper-grid.md``: the paper grid's counts and FRR beside ours.

Separate from :mod:`training.core.paper_grid` (which counts and reads) so that each stays one job:
this module only formats what a :class:`~training.core.paper_grid.PaperGrid` holds.
"""

from __future__ import annotations

import dataclasses

from training.core.paper_grid import (
    ALTERNATIVES,
    FIT_TOLERANCE,
    MISFIT,
    Convention,
    PaperGrid,
    Row,
    fit,
    ranks,
    single_changes,
    spearman,
)

INT8_FILE_OVERHEAD = 22_000
"""Bytes an int8 streaming file adds to one byte per parameter, estimated: the smallest
(file bytes - parameters) of the four streaming files in benchmarks/results/sweep_hey_jarvis
(22.3-28.6 KB, int8_weights; biases stay 32-bit in both forms)."""


def _pct(value: float | None, digits: int = 2) -> str:
    return "not run" if value is None else f"{100 * value:.{digits}f}%"


def _delta(row: Row, count: int) -> str:
    delta = row.delta(count)
    return f"{count:,}" if delta is None else f"{count:,} ({100 * delta:+.1f}%)"


def _config(row: Row) -> list[str]:
    c = row.config
    return [
        row.name, str(c.conv_filters), f"({c.kernel_t}, {c.kernel_f})",
        f"({c.stride_t}, {c.stride_f})", str(c.rnn_layers), str(c.rnn_units), c.cell.upper(),
        str(c.fc_units),
    ]  # fmt: skip


def _table(header: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])


CONFIG_HEADER = ["row", "N_C", "(L_T, L_F)", "(S_T, S_F)", "R", "N_R", "cell", "N_F"]


def counts_table(rows: list[Row]) -> str:
    header = [
        *CONFIG_HEADER, "paper total", "paper's convention (Δ)", "ours, uni (Δ)", "ours, bi (Δ)",
    ]  # fmt: skip
    cells = [
        [
            *_config(r),
            f"{r.paper.params:,}" if r.paper else "–",
            _delta(r, r.paper_convention),
            _delta(r, r.ours),
            _delta(r, r.ours_bi),
        ]
        for r in rows
    ]
    return _table(header, cells)


def fit_table(grid: PaperGrid) -> str:
    header = ["convention", f"rows within {FIT_TOLERANCE:.0%}", "median |Δ|", "largest |Δ|"]
    cells = []
    stated = [grid.convention] + [c for c in ALTERNATIVES if c != grid.convention]
    for convention in stated:
        f = fit(grid, convention)
        label = convention.label() + (" (**stated**)" if convention == grid.convention else "")
        label += " (ours)" if convention in _ours() else ""
        cells.append(
            [label, f"{f['within']} of {f['rows']}", f"{f['median']:.1%}", f"{f['max']:.1%}"]
        )
    return _table(header, cells)


def _ours() -> tuple[Convention, ...]:
    return ALTERNATIVES[:2]


def misfits(grid: PaperGrid) -> str:
    lines = []
    for r in grid.rows:
        delta = r.delta(r.paper_convention)
        if delta is None or abs(delta) <= MISFIT:
            continue
        assert r.paper is not None
        changes = single_changes(r, grid)
        maybe = "; ".join(changes) if changes else "none"
        lines.append(
            f"- **{r.name}** ({', '.join(_config(r)[1:])}): printed {r.paper.params:,}, "
            f"{r.paper_convention:,} under the convention ({100 * delta:+.1f}%). One-field "
            f"changes to values other rows use that land within {FIT_TOLERANCE:.0%}: {maybe}."
        )
    return "\n".join(lines) if lines else "Every row is within the tolerance."


def frr_table(grid: PaperGrid) -> str:
    paper_rank = ranks({r.name: r.paper.frr_1fa_pct for r in grid.rows if r.paper})
    ours = {
        r.name: r.result.frr_1fa for r in grid.rows if r.result and r.result.frr_1fa is not None
    }
    our_rank = ranks(ours)
    header = [
        "row", "paper total", "ours, uni", "paper FRR@1", "paper FRR@0.5", "paper rank",
        "our FRR@1", "our FRR@0.5", "our int8 file", "our rank",
    ]  # fmt: skip
    cells = []
    for r in grid.rows:
        p, res = r.paper, r.result
        cells.append(
            [
                r.name,
                f"{p.params:,}" if p else "–",
                f"{r.ours:,}",
                f"{p.frr_1fa_pct:.2f}%" if p else "–",
                f"{p.frr_05fa_pct:.2f}%" if p else "–",
                f"{paper_rank[r.name]:g}" if r.name in paper_rank else "–",
                _pct(res.frr_1fa if res else None, 1),
                _pct(res.frr_05fa if res else None, 1),
                f"{res.bytes:,} B" if res else "not run",
                f"{our_rank[r.name]:g}" if r.name in our_rank else "–",
            ]
        )
    return _table(header, cells)


def frr_summary(grid: PaperGrid) -> str:
    if grid.results is None:
        return (
            "Our FRR: **not run**. No sweep results were found (the default is "
            "`benchmarks/results/sweep_arik2017/results.json`; `--results PATH` reads another "
            "sweep's `results.json`)."
        )
    paper = {r.name: r.paper.frr_1fa_pct for r in grid.rows if r.paper}
    ours = {
        r.name: r.result.frr_1fa for r in grid.rows if r.result and r.result.frr_1fa is not None
    }
    rho = spearman(paper, ours)
    agreement = (
        f"Spearman rank correlation of FRR at 1 FA/h, paper vs ours, over the {len(ours)} rows "
        f"run: {rho:+.2f}." if rho is not None else "Too few rows run to compare orderings."
    )  # fmt: skip
    return f"Our FRR: from `{grid.results}`. {agreement}"


def over_budget(grid: PaperGrid) -> list[Row]:
    """Rows whose int8 streaming file is estimated above the preset's budget."""
    return [r for r in grid.rows if r.ours + INT8_FILE_OVERHEAD > grid.budget_bytes]


def subset_command(grid: PaperGrid) -> str:
    names = [r.name for r in grid.rows if r not in over_budget(grid)]
    lines = ["python -m training.sweep training/grids/arik2017.toml --set base.corpus=DIR \\"]
    for i in range(0, len(names), 6):
        flags = " ".join(f"--only {n}" for n in names[i : i + 6])
        lines.append(f"  {flags}" + (" \\" if i + 6 < len(names) else ""))
    return "\n".join(lines)


def render(grid: PaperGrid) -> str:
    """The markdown page."""
    source, inp, conv = grid.facts["source"], grid.facts["input"], grid.convention
    status = "found" if source["table_found"] else "**not found**"
    verified = "\n".join(f"- {v}" for v in source["verified"])
    over = over_budget(grid)
    over_list = ", ".join(f"{r.name} ({r.ours:,} parameters)" for r in over) or "none"
    stated = fit(grid, conv)
    uni = [fit(grid, c) for c in ALTERNATIVES if not c.bidirectional]
    uni_within, uni_median = max(f["within"] for f in uni), min(f["median"] for f in uni)
    bi_last = fit(grid, ALTERNATIVES[1])["median"]
    other_bias = dataclasses.replace(conv, gru_biases=3 - conv.gru_biases)
    other = fit(grid, other_bias)
    within = [r.ours for r in grid.rows if r not in over]
    smallest_over = min((r.ours for r in over), default=0)
    return f"""# The CRNN grid of Arik et al. 2017 beside ours

Generated by `python -m training.paper_grid` from `training/grids/arik2017.toml` and
`training/grids/arik2017_paper.toml`; do not edit (a test regenerates it and compares).

Source: {source["citation"]}.

## Status

Table of configurations: {status}. Rows from: {source["rows_from"]}.

Verified:

{verified}

Not stated: {source["missing"]}.

## Input assumed

{inp["frames"]} frames x {inp["features"]} channels: 1.5 s at a 10 ms hop, 40 mel channels
(the paper uses PCEN; this project computes log-mel energies, which does not change any weight
count), {inp["labels"]} output labels (assumed: keyword vs not). Our window form needs
`window_frames` to be a multiple of S_T, so each row is counted with the largest multiple of S_T
not above {inp["frames"]}; no weight of our model depends on the window length (the convolution
spans L_T frames, the recurrent weights are shared over time, the last step is read out), so our
count is the count for {inp["frames"]} frames, and for the sweep's 144-frame window (140 for
paper05, whose S_T is 20).

## Parameter counts

"paper's convention" is the closed form under the convention stated in the paper file
({conv.label()}), inferred from the totals (next section). "ours, uni" is the model the sweep
trains (unidirectional: only those have a streaming form); "ours, bi" the same model with
bidirectional recurrent layers. Both are the trainable weights of the model `training.models`
builds, checked against the closed form for every row; the fixed normalization statistics
(2 x 40) are not counted. Δ is relative to the paper's total.

{counts_table(grid.rows)}

Reference, not from the paper (the project's hey_jarvis configuration at the paper's input):

{counts_table(grid.references)}

## Which convention the totals fit

Each convention counted for every row, against the printed totals (which are rounded to
thousands, ±0.5k, up to ±1.1% on the smallest row):

{fit_table(grid)}

The totals are of **bidirectional** recurrent layers: the unidirectional conventions above fit
{uni_within} rows within {FIT_TOLERANCE:.0%} at best, and their median |Δ| is {uni_median:.0%} or
more. Bidirectional layers alone are not enough either: with our readout (the last step only)
the median row is still {bi_last:.0%} off. What fills the gap is a fully connected layer over the
recurrent outputs of **every** step (2 N_R x steps inputs, e.g. 2 x 32 x 19 x 64 = 77,824
weights for paper15), with `same` padding (ceil({inp["frames"]} / S_T) steps,
ceil({inp["features"]} / S_F) bins). Under that convention {stated["within"]} of
{stated["rows"]} rows are within {FIT_TOLERANCE:.0%} (median {stated["median"]:.1%}); with
{other_bias.gru_biases} GRU bias vectors per gate instead of {conv.gru_biases}, {other["within"]}
rows (median {other["median"]:.1%}). The residuals of the fitting rows, a few hundred
parameters, are about what rounding to thousands gives (±500), a little more on some rows; an
unstated detail such as normalization scales could account for the rest.

### Rows the convention does not fit (more than {MISFIT:.0%} off)

{misfits(grid)}

These rows are kept as the CSV gives them; the one-field changes are candidates for a slip in
the table or its transcription, not corrections.

## FRR: the paper's and ours

The paper's FRR is measured on its own test set: real speech of its keyword with noise at 5 dB
SNR, at 1 and 0.5 false accepts per hour of its background audio. Ours (when a sweep has been
run) is the sweep's: FRR of the int8 streaming file on the corpus's validation streams (TTS
voices and the corpus's noises, the corpus's keyword), through the runtime pipeline. The data,
keyword, SNRs and negatives differ, so the absolute numbers are not comparable; what is
comparable is the **ordering** of the rows (does a configuration the paper finds better also do
better here?) and how FRR moves with size. Ranks: 1 = lowest FRR at 1 FA/h (ties share the mean
rank).

{frr_summary(grid)}

{frr_table(grid)}

## Size budget

The preset's budget is {grid.budget_bytes:,} bytes for the int8 streaming file. An int8 file
holds one byte per weight plus a graph and quantization overhead, estimated at
{INT8_FILE_OVERHEAD:,} bytes (the smallest of the four files in
`benchmarks/results/sweep_hey_jarvis`, which are 22-29 KB above their parameter counts). Over the
budget: {over_list}. The overhead estimate decides no row: the smallest of those has
{smallest_over:,} parameters ({grid.budget_bytes - smallest_over:,} bytes left for the
overhead), the largest row within has {max(within, default=0):,}. The sweep measures each file
(the "our int8 file" column once run). CPU cost is not estimated here: per-call overhead
dominates at these sizes (benchmarks/results/runtime_cost.md), and the sweep measures each row's
invoke time.

The rows within the budget, with the sweep's row selection (each row keeps its seed):

```sh
{subset_command(grid)}
```

## Where counts differ, and why

The closed form of our model, with F = {inp["features"]} input channels,
F' = (F − L_F) // S_F + 1 frequency bins after the convolution, d = 2 for bidirectional else 1:

- convolution: N_C (L_T L_F + 1): one kernel and one bias per filter, no batch norm;
- recurrent layer i, input width w (w = F' N_C for the first, d N_R after):
  GRU d · 3 N_R (w + N_R + 2), LSTM d · 4 N_R (w + N_R + 1);
- fully connected: (d N_R + 1) N_F; output: (N_F + 1) · labels.

1. **Direction.** The paper's totals are bidirectional; ours are unidirectional, because a
   streaming model cannot look ahead. A bidirectional layer doubles the recurrent weights and
   the next layer's input width ("ours, bi").
2. **Readout.** Ours feeds the last recurrent step to the fully connected layer, whose weights
   do not depend on the window; the paper's totals fit a layer over all steps, whose weights
   grow with the window (19 steps for 151 frames at S_T = 8). This is most of the gap between
   "ours, bi" and the paper's totals.
3. **Padding.** Ours is causal in time (L_T − S_T zero frames on the left, one output per S_T
   frames) and valid in frequency (F' bins); the totals fit `same` padding in frequency,
   ceil(F / S_F) bins, which widens the first recurrent layer's input (20 instead of 18 bins at
   S_F = 2). In time, padding only changes the count through the readout over all steps.
4. **Input size.** 151 frames in the paper, 144 in the sweep's window (140 for paper05): no
   weight of ours depends on it; under the paper's readout the step count would.
5. **GRU biases.** Keras' GRU uses `reset_after=True` (the cuDNN convention), two bias vectors
   per gate, 3 N_R more per layer and direction than the original GRU (Cho et al. 2014), which
   the totals fit slightly better.
6. **Normalization.** Ours has no trained normalization (the feature normalization is fixed
   statistics). A layer or batch normalization in the paper would add 2 parameters per
   normalized unit, a few hundred per row: within the residuals, not identifiable from them.
7. **Labels.** The output layer has (N_F + 1) weights per label; 2 labels are assumed, and a
   different count moves a total by N_F + 1 per label (under 0.1% of any row).
"""
