"""Evaluate: score a model on labelled clips as the leaderboard does, and look at its worst frames."""

import streamlit as st

from mvcore.app import charts, outputs, storage, summaries
from mvcore.app.widgets import pick_data, pick_model, segmenter_for, setup_page
from mvcore.errors import InputError
from mvcore.metrics import evaluate

setup_page("Evaluate")
st.title("Evaluate")
st.caption("IoU per video over its annotated frames; the score is the median over videos (the AML leaderboard's "
           "figure). Needs labelled clips: a train.pkl, or the bundled train_small.pkl.")

data_col, model_col = st.columns([3, 2], gap="large")
with data_col:
    picked = pick_data("eval", aml_only=True, labelled=True)
with model_col:
    model = pick_model(key="eval_model")
    segmenter = segmenter_for(model) if model else None
    clicked = st.button("Evaluate", type="primary", disabled=picked is None or segmenter is None,
                        width="stretch")

if picked is None or model is None:
    st.stop()
path, clips = picked
key = (str(path), storage.file_key(path), str(model.path), model.version)
results = st.session_state.setdefault("eval_results", {})

if clicked and key not in results:
    labelled = [c for c in clips if c.is_labelled]
    bar = st.progress(0.0, text=f"Segmenting the annotated frames of {len(labelled)} labelled clips...")
    try:
        masks = outputs.annotated_masks(segmenter, labelled, progress=lambda f: bar.progress(f))
        evaluation = evaluate(masks, summaries.labels_of(labelled))
    except InputError as err:
        bar.empty()
        st.error(str(err))
        st.stop()
    bar.empty()
    by_name = {c.name: c for c in labelled}
    worst = [dict(row, image=charts.frame_image(by_name[row["name"]], masks[row["name"]], row["frame"], "contour"))
             for row in charts.worst_frames(evaluation.per_frame, 4)]
    results.clear()  # keep one evaluation: masks of big sets are not kept, only the pictures
    results[key] = {"evaluation": evaluation, "worst": worst, "datasets": {c.name: c.dataset for c in labelled}}

shown = results.get(key)
if shown is None:
    st.info("Choose labelled data and a model, then press **Evaluate**.")
    st.stop()

evaluation = shown["evaluation"]
st.divider()
c = st.columns(3)
c[0].metric("Score (median IoU over videos)", f"{evaluation.score:.3f}")
c[1].metric("Mean IoU over videos", f"{evaluation.mean_video:.3f}")
c[2].metric(f"Mean IoU over {len(evaluation.per_frame)} frames", f"{evaluation.mean_frame:.3f}")

table_col, chart_col = st.columns([2, 3], gap="large")
with table_col:
    st.markdown("**IoU per video**")
    st.dataframe([{"video": name, "dataset": shown["datasets"].get(name, ""), "IoU": round(iou, 4)}
                  for name, iou in evaluation.per_video.items()], hide_index=True)
with chart_col:
    st.markdown("**IoU per annotated frame**")
    st.plotly_chart(charts.frame_iou_chart(evaluation.per_frame), key="eval_chart")

st.markdown("**Worst frames** (red: prediction, green: truth)")
cols = st.columns(4)
for col, row in zip(cols, shown["worst"]):
    col.image(row["image"], caption=f"{row['name']} frame {row['frame']}: IoU {row['iou']:.3f}", width="stretch")
