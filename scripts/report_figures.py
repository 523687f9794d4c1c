#!/usr/bin/env python3
"""Draws the figures of an mfsweep report from its report.json (mfsweep report runs this).

    python3 figures.py report.json [FOLDER]

Every figure's data is in report.json (the numbers the page shows); this script only draws
them, with matplotlib, into FOLDER/<name>.svg and FOLDER/<name>.pdf. It reads nothing else.
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({
    "figure.figsize": (6.4, 4.2), "figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "font.size": 10, "legend.fontsize": 8,
    "svg.fonttype": "none", "pdf.fonttype": 42,
})

MAX_LINES = 12


def finite(values):
    return [v if (v is not None and isinstance(v, (int, float)) and math.isfinite(v)) else float("nan") for v in values]


def label_of(labels):
    return ", ".join(f"{k}={v}" for k, v in labels.items()) or "all runs"


def colours(n):
    cmap = plt.get_cmap("viridis" if n > 10 else "tab10")
    return [cmap(i / max(1, n - 1)) if n > 10 else cmap(i) for i in range(n)]


def draw_curves(ax, groups, ylabel, log=False, subset=False):
    """Mean curves with their bands; many groups are drawn as a median and a 10-90% band, or
    (subset) as 6 groups evenly spaced in the grid's order."""
    drawn = [g for g in groups if g.get("times")]
    if subset and len(drawn) > MAX_LINES:
        picks = [round(i * (len(drawn) - 1) / 5) for i in range(6)]
        drawn = [drawn[i] for i in picks]
        ax.set_title(f"6 of {len(groups)} groups", fontsize=8)
    if len(drawn) <= MAX_LINES:
        for g, c in zip(drawn, colours(len(drawn))):
            t = finite(g["times"])
            ax.plot(t, finite(g["mean"]), color=c, lw=1.4, label=label_of(g["labels"]))
            if g.get("lower") and g["lower"] != g["mean"]:
                ax.fill_between(t, finite(g["lower"]), finite(g["upper"]), color=c, alpha=0.2, lw=0)
        if len(drawn) > 1:
            ax.legend(loc="best", frameon=False)
    else:
        # Aggregate: the median over groups and the 10-90% band, per sample index.
        length = max(len(g["times"]) for g in drawn)
        t = next(g["times"] for g in drawn if len(g["times"]) == length)
        med, lo, hi = [], [], []
        for j in range(length):
            v = sorted(x for g in drawn if j < len(g["mean"]) for x in finite([g["mean"][j]]) if not math.isnan(x))
            if not v:
                med.append(float("nan")); lo.append(float("nan")); hi.append(float("nan"))
                continue
            q = lambda p: v[min(len(v) - 1, int(p * (len(v) - 1)))]  # noqa: E731
            med.append(q(0.5)); lo.append(q(0.1)); hi.append(q(0.9))
        ax.plot(t, med, color="C0", lw=1.6, label=f"median of {len(drawn)} groups")
        ax.fill_between(t, lo, hi, color="C0", alpha=0.25, lw=0, label="10-90% of groups")
        ax.legend(loc="best", frameon=False)
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    values = [v for g in drawn for v in finite(g["mean"]) if v == v]
    if values and min(values) > 0 and max(values) / min(values) > 100:
        log = True  # positive values over more than two decades
    if log:
        ax.set_yscale("log")


def figure_curves(fig, ax, spec, report):
    analysis = find(report, spec.get("analysis"))
    groups = analysis["groups"] if analysis else spec["data"]["groups"]
    subset = bool(analysis) and analysis["kind"] != "curves"
    draw_curves(ax, groups, spec["ylabel"], log=spec.get("log", False), subset=subset)
    if subset:
        shown = {label_of(g["labels"]) for g in groups if g.get("times")}
        if len(groups) > MAX_LINES:
            picks = [round(i * (len(groups) - 1) / 5) for i in range(6)]
            shown = {label_of(groups[i]["labels"]) for i in picks}
        groups_drawn = [g for g in analysis["groups"] if label_of(g["labels"]) in shown]
    else:
        groups_drawn = analysis["groups"] if analysis else []
    if analysis and analysis["kind"] == "hitting-time":
        ax.axhline(analysis["threshold"], color="k", ls=":", lw=1, label="threshold")
        for g, c in zip(groups_drawn, colours(len(groups_drawn))):
            if g.get("estimate") is not None:
                ax.axvline(g["estimate"], color=c, ls=":", lw=1)
            if g.get("expected") is not None:
                ax.axvline(g["expected"], color=c, ls="--", lw=1)
        ax.set_yscale("log")
    if analysis and analysis["kind"] == "plateau":
        lo, hi = analysis["window"]
        ax.axvspan(lo, hi, color="0.85", alpha=0.5, lw=0, label="window")
        for g, c in zip(groups_drawn, colours(len(groups_drawn))):
            if g.get("expected") is not None:
                ax.axhline(g["expected"], color=c, ls="--", lw=1)


def figure_power_law(fig, ax, spec, report):
    a = find(report, spec["analysis"])
    for g, c in zip(a["groups"], colours(len(a["groups"]))):
        pts = g.get("points") or []
        if not pts:
            continue
        x = [p[0] for p in pts]; y = [p[1] for p in pts]; se = [p[2] if p[2] and math.isfinite(p[2]) else 0 for p in pts]
        ax.errorbar(x, y, yerr=[2 * s for s in se], fmt="o", color=c, ms=4, capsize=2, label=label_of(g["labels"]))
        if g.get("estimate") is not None and g.get("intercept") is not None:
            xs = [min(x) * (max(x) / min(x)) ** (i / 50) for i in range(51)]
            ax.plot(xs, [math.exp(g["intercept"]) * v ** g["estimate"] for v in xs], color=c, lw=1.2,
                    label=(f"finest local order {g['estimate']:.4g}" if a["kind"] == "order" else f"fit: slope {g['estimate']:.4g}"))
            if g.get("interval"):
                lo, hi = g["interval"]
                # The band of slopes through the data's centre (in log-log coordinates).
                cx = math.exp(sum(math.log(v) for v in x) / len(x))
                cy = math.exp(g["intercept"]) * cx ** g["estimate"]
                ax.fill_between(xs, [cy * (v / cx) ** lo for v in xs], [cy * (v / cx) ** hi for v in xs],
                                color=c, alpha=0.15, lw=0)
            if g.get("expected") is not None:
                cx = math.exp(sum(math.log(v) for v in x) / len(x))
                cy = math.exp(g["intercept"]) * cx ** g["estimate"]
                ax.plot(xs, [cy * (v / cx) ** g["expected"] for v in xs], color="k", ls="--", lw=1,
                        label=f"theory: slope {g['expected']:.4g}")
    ax.set_xscale("log"); ax.set_yscale("log")
    ax.set_xlabel(a["against"])
    if a.get("relative"):
        ax.set_ylabel(f"|{spec['ylabel']} − baseline| / |baseline|")
    elif any(g.get("baseline") is not None for g in a["groups"]):
        ax.set_ylabel(f"|{spec['ylabel']} − baseline|")
    else:
        ax.set_ylabel(spec["ylabel"])
    ax.legend(loc="best", frameon=False)


def figure_exponential(fig, ax, spec, report):
    a = find(report, spec["analysis"])
    for g, c in zip(a["groups"], colours(len(a["groups"]))):
        if not g.get("times"):
            continue
        base = g.get("baseline") or 0.0
        t = finite(g["times"])
        ax.plot(t, [abs(v - base) for v in finite(g["mean"])], color=c, lw=1.2, label=label_of(g["labels"]))
        if g.get("estimate") is not None:
            lo, hi = a["window"]
            ts = [lo + (hi - lo) * i / 50 for i in range(51)]
            ax.plot(ts, [math.exp(g["intercept"] - g["estimate"] * s) for s in ts], color=c, ls="--", lw=1.2,
                    label=f"fit: rate {g['estimate']:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("time"); ax.set_ylabel(f"|{spec['ylabel']} − baseline|")
    ax.legend(loc="best", frameon=False)


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def draw_summary(ax, a, ylabel):
    """Each group's estimate with its interval (and the expected value, dashed), against the
    numeric grid key with the most values, one series per value of the other keys. Returns False
    when no key is numeric."""
    groups = [g for g in a["groups"] if g.get("estimate") is not None]
    if not groups:
        return False
    keys = list(groups[0]["labels"].keys())
    numeric = [k for k in keys if all(number(g["labels"].get(k)) is not None for g in groups)]
    if not numeric:
        return False
    xkey = max(numeric, key=lambda k: len({g["labels"][k] for g in groups}))
    if len({g["labels"][xkey] for g in groups}) < 2:
        return False
    others = [k for k in keys if k != xkey]
    series = {}
    for g in groups:
        series.setdefault(tuple((k, g["labels"][k]) for k in others), []).append(g)
    xs_all = []
    for (name, members), c in zip(series.items(), colours(len(series))):
        members.sort(key=lambda g: number(g["labels"][xkey]))
        x = [number(g["labels"][xkey]) for g in members]
        xs_all += x
        y = [g["estimate"] for g in members]
        lo = [y[i] - (g["interval"][0] if g.get("interval") else y[i]) for i, g in enumerate(members)]
        hi = [(g["interval"][1] if g.get("interval") else y[i]) - y[i] for i, g in enumerate(members)]
        label = ", ".join(f"{k}={v}" for k, v in name) or "estimate"
        ax.errorbar(x, y, yerr=[lo, hi], fmt="o-", color=c, ms=4, lw=1, capsize=3, label=label)
        ex = [(number(g["labels"][xkey]), g["expected"]) for g in members if g.get("expected") is not None]
        if ex:
            ax.plot([p[0] for p in ex], [p[1] for p in ex], ls="--", marker="_", ms=14, color=c, lw=1,
                    label="expected" if len(series) == 1 else f"expected ({label})")
    positive = [v for v in xs_all if v > 0]
    if positive and len(positive) == len(xs_all) and max(positive) / min(positive) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(xkey)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False, fontsize=7)
    return True


def plateau_panels(report, spec):
    a = find(report, spec["analysis"])
    return 2 if len([g for g in a["groups"] if g.get("estimate") is not None]) > 1 else 1


def figure_plateau(fig, axes, spec, report):
    """The curves with the window; beside them, each group's plateau against the grid."""
    figure_curves(fig, axes[0], spec, report)
    if len(axes) > 1:
        a = find(report, spec["analysis"])
        if not draw_summary(axes[1], a, f"{spec['ylabel']}: mean over the window"):
            figure_reduction(fig, axes[1], spec, report)


def figure_reduction(fig, ax, spec, report):
    a = find(report, spec["analysis"])
    if spec["kind"] == "reduction" and draw_summary(ax, a, spec["ylabel"]):
        return
    names = [label_of(g["labels"]) for g in a["groups"]]
    for i, g in enumerate(a["groups"]):
        if g.get("estimate") is None:
            continue
        lo, hi = g.get("interval") or (g["estimate"], g["estimate"])
        ax.errorbar([i], [g["estimate"]], yerr=[[g["estimate"] - lo], [hi - g["estimate"]]], fmt="o", color="C0", capsize=3)
        if g.get("expected") is not None:
            ax.plot([i - 0.3, i + 0.3], [g["expected"]] * 2, color="k", ls="--", lw=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(spec["ylabel"])


def figure_density(fig, axes, spec, report):
    panels = spec["data"]["panels"]
    for ax, p in zip(axes, panels):
        if p["kind"] == "1d":
            ax.step(p["centres"], p["histogram"], where="mid", color="C0", lw=1.2, label="particles")
            ax.plot(p["centres"], p["density"], color="C3", lw=1.2, label="reference PDE")
            ax.set_xlabel(p["xlabel"]); ax.set_ylabel("density")
            ax.legend(loc="best", frameon=False)
        else:
            extent = p["extent"]
            ax.imshow(p["values"], origin="lower", extent=extent, aspect="auto", cmap="magma")
            ax.set_xlabel(p["xlabel"]); ax.set_ylabel(p["ylabel"])
        ax.set_title(p["title"], fontsize=9)


def figure_richardson(fig, ax, spec, report):
    """Each grid's value against its spacing (finest at the left), with the extrapolated value
    at spacing 0, its interval and the expected value."""
    a = find(report, spec["analysis"])
    largest = a.get("finest", "largest") == "largest"
    for g, c in zip(a["groups"], colours(len(a["groups"]))):
        pts = g.get("points") or []
        if not pts:
            continue
        h = [1 / p[0] if largest else p[0] for p in pts]
        scale = min(h)
        h = [v / scale for v in h]
        y = [p[1] for p in pts]
        se = [p[2] if p[2] and math.isfinite(p[2]) else 0 for p in pts]
        ax.errorbar(h, y, yerr=[2 * s for s in se], fmt="o-", color=c, ms=4, lw=1, capsize=2,
                    label=label_of(g["labels"]))
        if g.get("estimate") is not None:
            order = g.get("order")
            ax.errorbar([0], [g["estimate"]],
                        yerr=[[g["estimate"] - g["interval"][0]], [g["interval"][1] - g["estimate"]]]
                        if g.get("interval") and all(math.isfinite(v) for v in g["interval"]) else None,
                        fmt="s", color=c, ms=5, capsize=3,
                        label=f"extrapolated {g['estimate']:.6g}" + (f" (order {order:.3g})" if order else ""))
        if g.get("expected") is not None:
            ax.axhline(g["expected"], color="k", ls="--", lw=1)
    if any(g.get("expected") is not None for g in a["groups"]):
        ax.plot([], [], color="k", ls="--", lw=1, label="expected")
    ax.set_xlabel(f"grid spacing relative to the finest ({a['against']})")
    ax.set_ylabel(spec["ylabel"])
    ax.set_xlim(left=-0.2)
    ax.legend(loc="best", frameon=False, fontsize=7)


def find(report, name):
    for a in report["analyses"]:
        if a["name"] == name:
            return a
    return None


DRAW = {"curves": figure_curves, "conservation": figure_curves,
        "hitting-time": figure_curves, "power-law": figure_power_law, "order": figure_power_law,
        "exponential-rate": figure_exponential, "reduction": figure_reduction,
        "richardson": figure_richardson}


def main():
    path = sys.argv[1]
    folder = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        report = json.load(f)
    for spec in report["figures"]:
        if spec["kind"] == "density":
            n = len(spec["data"]["panels"])
            fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
            figure_density(fig, axes[0], spec, report)
        elif spec["kind"] == "plateau":
            n = plateau_panels(report, spec)
            fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 4.2), squeeze=False)
            figure_plateau(fig, axes[0], spec, report)
        else:
            fig, ax = plt.subplots()
            DRAW[spec["kind"]](fig, ax, spec, report)
        fig.suptitle(spec["title"], fontsize=10)
        fig.tight_layout()
        for extension in ("svg", "pdf"):
            fig.savefig(os.path.join(folder, f"{spec['name']}.{extension}"))
        plt.close(fig)
    print(f"{len(report['figures'])} figure(s) in {folder}")


if __name__ == "__main__":
    main()
