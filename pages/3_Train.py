"""Train: start a two-stage training or a fine-tuning run in the background and follow it live."""

import time

import streamlit as st

from mvcore.app import charts, jobs, storage, summaries
from mvcore.app.widgets import pick_data, setup_page
from mvcore.config import TrainConfig
from mvcore.errors import InputError

setup_page("Train")
st.title("Train")
st.caption("Training runs as a separate background process: reloading the page, opening a second tab or "
           "closing the browser does not stop it. One training job runs at a time.")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def show_job(job: jobs.Job) -> None:
    """Status, device, stage, ETA, live curves and a cancel button of one job."""
    status, progress = job.status(), job.progress()
    st.subheader(f"Job: {job.name}")
    c = st.columns(4)
    c[0].metric("Status", status)
    c[1].metric("Stage", progress.stage or "-")
    c[2].metric("Epochs", f"{progress.done_epochs} / {progress.planned_epochs}")
    c[3].metric("Time left", _duration(progress.eta_s) if status == "running" else "-")
    st.caption(f"Training on {progress.device or '... (starting)'}; model folder {job.model_dir}")
    if status == "running":
        st.progress(progress.fraction)
        if st.button("Cancel training", icon=":material/stop:"):
            jobs.cancel(job)
            st.rerun(scope="app")
    elif status == "done":
        st.success(f"Model '{job.name}' is ready; it is now in the model lists.")
    elif status == "failed":
        st.error(f"Training failed: {job.error()}")
    else:
        st.warning("Training was cancelled.")
    if progress.epochs:
        st.plotly_chart(charts.training_chart(progress.epochs), key=f"curves_{job.id}")
    if progress.messages:
        st.caption(" ".join(progress.messages))
    for text in progress.warnings:
        st.warning(f"This model may be poor: {text}.", icon=":material/warning:")
    if status != "running" and st.session_state.get("train_watching") == job.id:
        st.session_state.pop("train_watching")
        st.rerun(scope="app")  # refresh the model list and stop polling


latest = jobs.latest_job()
if latest is not None:
    running = latest.status() == "running"
    if running:
        st.session_state["train_watching"] = latest.id
    st.fragment(run_every=2.0 if running else None)(show_job)(latest)
    st.divider()

st.subheader("New training run")
data_col, settings_col = st.columns([1, 1], gap="large")
with data_col:
    picked = pick_data("train", aml_only=True, labelled=True)
    models = storage.list_models()
    fresh = {"the bundled model's networks (two stages)": False, "random weights (two stages)": True}
    start_from = st.selectbox("Start from", [*fresh, *(m.label for m in models)],
                              help="Two stages begin from the bundled model's networks where the image size "
                                   "fits them (a small set learns faster from them), or from random weights. "
                                   "Picking a model fine-tunes it: its locator is kept and stage 2 runs alone.")
    init = next((m.path for m in models if m.label == start_from), None)
    name = st.text_input("New model name", value=f"model-{time.strftime('%Y%m%d-%H%M')}",
                         help="Saved under workspace/models/NAME.")

defaults = TrainConfig()
with settings_col:
    e1, e2 = st.columns(2)
    epochs1 = e1.number_input("Epochs, stage 1 (all clips)", 1, 200, defaults.epochs_stage1, disabled=init is not None)
    epochs2 = e2.number_input("Epochs, stage 2 (expert clips)", 0, 200, defaults.epochs_stage2)
    l1, l2 = st.columns(2)
    lr1 = l1.number_input("Learning rate, stage 1", 1e-5, 1e-1, defaults.lr_stage1, format="%.4f", step=1e-4)
    lr2 = l2.number_input("Learning rate, stage 2", 1e-5, 1e-1, defaults.lr_stage2, format="%.4f", step=1e-4)
    size = st.select_slider("Image size (crop side, pixels)", [64, 96, 128, 160, 192, 256], defaults.crop_size,
                            disabled=init is not None, help="Fine-tuning keeps the starting model's size.")
    fast = st.checkbox("Quick test run (tiny model, seconds; ignores the settings above)")

if st.button("Start training", type="primary", disabled=picked is None):
    settings = jobs.TrainSettings(fast=True) if fast else jobs.TrainSettings(
        epochs_stage1=int(epochs1), epochs_stage2=int(epochs2), image_size=int(size), lr_stage1=lr1, lr_stage2=lr2,
        from_scratch=fresh.get(start_from, False))
    try:
        job = jobs.start_training([picked[0]], name, settings, init=init)
    except jobs.JobBusy as err:
        st.warning(str(err))
    except InputError as err:
        st.error(str(err))
    else:
        st.session_state["train_watching"] = job.id
        st.rerun()

st.divider()
st.subheader("Models")
st.dataframe(summaries.model_rows(storage.list_models()), hide_index=True)
