"""Figures for the app: plotly charts of per-frame rows, training curves and scores, and frame pictures.

Charts take plain rows (lists of dicts) so the pages only pass results through.
"""

from __future__ import annotations

import numpy as np

PRED_COLOR = "#e45756"
TRUTH_COLOR = "#2ca02c"
CONF_COLOR = "#4c78a8"
STAGE_COLORS = {"locator": "#9d9d9d", "stage1": "#4c78a8", "stage2": "#f58518"}


def _layout(fig, height: int = 320):
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig


def frame_chart(rows: list[dict]):
    """Mask area (pixels, left axis), mean confidence and IoU on labelled frames (0-1, right axis).

    rows: mvcore.export.frame_rows output (frame, area_px, mean_confidence, iou or None).
    """
    import plotly.graph_objects as go

    frames = [r["frame"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=frames, y=[r["area_px"] for r in rows], name="mask area (px)",
                             line=dict(color=PRED_COLOR)))
    fig.add_trace(go.Scatter(x=frames, y=[r["mean_confidence"] for r in rows], name="mean confidence",
                             line=dict(color=CONF_COLOR, dash="dot"), yaxis="y2"))
    labelled = [r for r in rows if r.get("iou") is not None]
    if labelled:
        fig.add_trace(go.Scatter(x=[r["frame"] for r in labelled], y=[r["iou"] for r in labelled],
                                 name="IoU (labelled frames)", mode="markers",
                                 marker=dict(color=TRUTH_COLOR, size=11, symbol="diamond"), yaxis="y2"))
    fig.update_layout(xaxis=dict(title="frame"), yaxis=dict(title="area (px)", rangemode="tozero"),
                      yaxis2=dict(title="confidence / IoU", overlaying="y", side="right", range=[0, 1.05]))
    return _layout(fig)


def training_chart(epochs: list[dict]):
    """Loss (train solid, validation dashed) and validation IoU per epoch, one colour per stage.

    epochs: training 'epoch' events (stage, epoch, loss, val_loss, val_iou). The x axis counts
    epochs over the whole run.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08)
    for stage in dict.fromkeys(e["stage"] for e in epochs):
        xs = [i + 1 for i, e in enumerate(epochs) if e["stage"] == stage]
        rows = [e for e in epochs if e["stage"] == stage]
        color = STAGE_COLORS.get(stage, "#444")
        fig.add_trace(go.Scatter(x=xs, y=[e["loss"] for e in rows], name=f"{stage} train loss",
                                 line=dict(color=color), mode="lines+markers"), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[e["val_loss"] for e in rows], name=f"{stage} val loss",
                                 line=dict(color=color, dash="dash"), mode="lines+markers"), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[e["val_iou"] for e in rows], name=f"{stage} val IoU",
                                 line=dict(color=color), mode="lines+markers", showlegend=False), row=1, col=2)
    fig.update_xaxes(title_text="epoch (whole run)")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="validation IoU", range=[0, 1], row=1, col=2)
    return _layout(fig, height=340)


def frame_iou_chart(per_frame: list[dict]):
    """IoU of every annotated frame (mvcore.metrics.Evaluation.per_frame), one bar each, grouped by video."""
    import plotly.graph_objects as go

    labels = [f"{r['name']} t={r['frame']}" for r in per_frame]
    ious = [r["iou"] for r in per_frame]
    colors = [PRED_COLOR if v < 0.5 else TRUTH_COLOR for v in ious]
    fig = go.Figure(go.Bar(x=labels, y=ious, marker_color=colors, hovertemplate="%{x}: IoU %{y:.3f}<extra></extra>"))
    fig.update_layout(yaxis=dict(title="IoU", range=[0, 1]), xaxis=dict(title="annotated frame", tickangle=-45))
    return _layout(fig)


def frame_image(clip, mask: np.ndarray, t: int, style: str = "contour") -> np.ndarray:
    """Frame `t` of `clip` with the predicted mask (red) and, when labelled at t, the truth (green contour).

    mask: bool (H, W, T). Returns uint8 RGB (H, W, 3).
    """
    from mvcore.video import overlay_frames

    truth = clip.label[:, :, t:t + 1] if clip.is_labelled and t in clip.frames else None
    return overlay_frames(clip.video[:, :, t:t + 1], mask[:, :, t:t + 1], style, truth=truth)[0]


def worst_frames(per_frame: list[dict], n: int = 4) -> list[dict]:
    """The `n` annotated frames with the lowest IoU (rows of Evaluation.per_frame), worst first."""
    return sorted(per_frame, key=lambda r: r["iou"])[:n]


OPEN_COLOR = "rgba(44, 160, 44, 0.12)"
ANNULUS_COLOR = "#9467bd"


def _runs_of(rows: list[dict], state: str) -> list[tuple[float, float]]:
    """[(start ms, end ms)] of the runs of frames whose 'valve' is `state`; a run ends at the next frame's time."""
    times = [r["t_ms"] for r in rows]
    step = times[1] - times[0] if len(times) > 1 else 1.0
    spans, start = [], None
    for i, r in enumerate(rows + [{"valve": None}]):
        if r["valve"] == state and start is None:
            start = times[i]
        elif r["valve"] != state and start is not None:
            spans.append((start, times[i - 1] + step))
            start = None
    return spans


def timeline_chart(rows: list[dict], unit: str):
    """Opening width and annulus diameter (in `unit`, 'mm' or 'px') against time (ms), the open
    phases shaded and the openings and closings marked.

    rows: mvcore.measure.frame_table output (t_ms, valve, event, opening_UNIT, annulus_UNIT, ...).
    """
    import plotly.graph_objects as go

    times = [r["t_ms"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[r[f"opening_{unit}"] for r in rows], name=f"opening ({unit})",
                             line=dict(color=PRED_COLOR), connectgaps=False))
    fig.add_trace(go.Scatter(x=times, y=[r[f"annulus_{unit}"] for r in rows], name=f"annulus ({unit})",
                             line=dict(color=ANNULUS_COLOR, dash="dot"), connectgaps=False))
    for start, end in _runs_of(rows, "open"):
        fig.add_vrect(x0=start, x1=end, fillcolor=OPEN_COLOR, line_width=0, layer="below")
    for kind, symbol, color in (("opening", "triangle-up", TRUTH_COLOR), ("closing", "triangle-down", CONF_COLOR)):
        marked = [r for r in rows if r["event"] == kind]
        fig.add_trace(go.Scatter(x=[r["t_ms"] for r in marked], y=[0] * len(marked), mode="markers", name=kind,
                                 marker=dict(symbol=symbol, size=11, color=color),
                                 hovertemplate=f"{kind} at %{{x:.0f}} ms<extra></extra>"))
    fig.update_layout(xaxis=dict(title="time (ms); shaded: valve open"),
                      yaxis=dict(title=f"length ({unit})", rangemode="tozero"))
    return _layout(fig)
