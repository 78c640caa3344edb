"""Figure constants, in one place (STYLE §7)."""

FIGSIZE_WIDE = (10.0, 4.0)
FIGSIZE_GRID = (10.0, 7.5)
PRINT_DPI = 300          # PNG resolution of every saved figure (a .svg copy is written beside it)
TASK_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
METHOD_STYLE = {
    "ExcessMTL(exact)": dict(color="#1f77b4", marker="o"),
    "ExcessMTL(taylor)": dict(color="#17becf", marker="v"),
    "ExcessMTL(adagrad)": dict(color="#2ca02c", marker="s"),
    "ExcessMTL(exact, no scale proc.)": dict(color="#9467bd", marker="D"),
    "ExcessMTL(adagrad, official)": dict(color="#2ca02c", marker="s"),
    "ExcessMTL(exact, paper)": dict(color="#1f77b4", marker="o"),
    "GroupDRO": dict(color="#d62728", marker="^"),
    "EqualWeights": dict(color="#7f7f7f", marker="x"),
    "MGDA": dict(color="#ff7f0e", marker="P"),
}
GAP_STYLE = dict(color="#1f77b4", marker="o", lw=1.5)
BOUND_STYLES = {"data": dict(color="#2ca02c", ls="--"), "apriori": dict(color="#d62728", ls=":")}
