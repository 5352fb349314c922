"""What the pages share: page setup, cached models and clips, the model and data pickers, upload ingest.

With mvcore.app.editor, the only modules of mvcore that import streamlit; `pages/` holds only the
pages themselves.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mvcore.app import storage
from mvcore.errors import InputError

NAVIGATION = [("app.py", "Home", ":material/home:"),
              ("pages/1_Segment_a_clip.py", "Segment a clip", ":material/movie:"),
              ("pages/2_Data.py", "Data", ":material/dataset:"),
              ("pages/3_Train.py", "Train", ":material/model_training:"),
              ("pages/4_Evaluate.py", "Evaluate", ":material/analytics:")]


def setup_page(title: str) -> None:
    """Wide layout, the browser tab's title and the sidebar's page links; every page calls it first.

    (The pages folder's own navigation is switched off in .streamlit/config.toml: it would call the
    home page 'app'.)
    """
    st.set_page_config(page_title=f"{title} - mitral valve", page_icon=":material/ecg_heart:", layout="wide")
    with st.sidebar:
        st.markdown("### :material/ecg_heart: Mitral valve")
        for page, label, icon in NAVIGATION:
            st.page_link(page, label=label, icon=icon)


@st.cache_resource(max_entries=3, show_spinner="Loading the model...")
def load_segmenter(path: str, version: str):
    """A loaded mvcore Segmenter, shared by every session (`version` changes when the folder does)."""
    from mvcore.predict import Segmenter

    return Segmenter.load(path).warm_up()


# Clips are cached as resources, not data: st.cache_data would copy (pickle) every video on each
# rerun, which for a 2 GB expert pickle costs seconds. Nothing mutates a Clip after loading.
@st.cache_resource(max_entries=6, show_spinner="Reading the clips...")
def load_clips(path: str, version: str, aml_only: bool = False):
    from mvcore.data import load_aml, load_inputs

    return load_aml(path) if aml_only else load_inputs(path)


@st.cache_resource(max_entries=4, show_spinner="Checking the upload...")
def ingest(name: str, file_id: str, _uploaded, max_bytes: int, aml_only: bool, axis: str = "HWT"):
    """The stored, validated upload; its bytes are copied out of the uploader only on a cache miss."""
    return storage.ingest_upload(name, _uploaded.getvalue(), max_bytes=max_bytes, aml_only=aml_only, axis=axis)


def upload_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 2**20


def pick_model(container=st, key: str = "model", help: str | None = None):
    """A select box of the available models; None (with an error shown) when there is none."""
    models = storage.list_models()
    if not models:
        container.error("No model yet: the bundled model (models/default) is missing. Train one on the "
                        "Train page, or add the bundled model.")
        return None
    labels = {m.label: m for m in models}
    choice = container.selectbox("Model", list(labels), key=key, help=help or "The bundled model or one trained here.")
    return labels[choice]


def segmenter_for(model):
    """The cached Segmenter of a ModelInfo; None with an error shown when it cannot be loaded."""
    try:
        return load_segmenter(str(model.path), model.version)
    except (InputError, OSError, ValueError) as err:
        st.error(f"Cannot load model '{model.name}': {err}")
        return None


def pick_data(key: str, aml_only: bool = False, labelled: bool = False, samples: list[Path] | None = None):
    """Sample or upload -> (path, clips), or None. Bad uploads show st.error and return None.

    aml_only: only AML pickles; labelled: require labelled clips (for evaluation).
    """
    if samples is None:
        samples = [p for p in storage.list_samples() if not aml_only or p.suffix == ".pkl"]
    if labelled:
        samples = [p for p in samples if p.name.startswith("train")]
    source = st.radio("Data", ["Sample", "Upload"], horizontal=True, key=f"{key}_source",
                      help="A bundled sample, or a file of yours.")
    if source == "Sample":
        if not samples:
            st.error("No bundled samples found (samples/ is missing).")
            return None
        name = st.selectbox("Sample", [p.name for p in samples], key=f"{key}_sample")
        path = next(p for p in samples if p.name == name)
        try:
            return path, load_clips(str(path), storage.file_key(path), aml_only)
        except InputError as err:
            st.error(str(err))
            return None
    # No `type=` filter: streamlit would reject other files with an exception of its own; the readers
    # refuse them with a message saying what is accepted.
    what = "an AML train.pkl / test.pkl" if aml_only else "a video (MP4, AVI, GIF, MOV), DICOM, .npy/.npz or AML .pkl"
    uploaded = st.file_uploader(f"Upload {what}", key=f"{key}_upload")
    if uploaded is None:
        return None
    axis = "HWT"
    if uploaded.name.lower().endswith((".npy", ".npz")):
        axis = st.radio("Array axes", ["HWT", "THW"], horizontal=True, key=f"{key}_axis",
                        help="HWT: frames last (the AML layout); THW: frames first.")
    try:
        upload = ingest(uploaded.name, uploaded.file_id, uploaded, upload_limit_bytes(), aml_only, axis)
    except InputError as err:
        st.error(f"Upload refused: {err}")
        return None
    except Exception as err:  # a reader bug must not take the page down; say what happened
        st.error(f"Upload refused: {uploaded.name}: cannot read ({type(err).__name__}: {err})")
        return None
    if labelled and not any(c.is_labelled for c in upload.clips):
        st.error(f"{upload.path.name}: no labelled clips (need a train.pkl with label and frames)")
        return None
    return upload.path, upload.clips


def measurement_panel(downloads) -> None:
    """The Segment page's measurements of a segmented clip (`mvcore.app.outputs.ClipOutputs`): a
    pixel-size input (the DICOM file's by default), a summary card, the timeline and the downloads."""
    import math

    from mvcore.app import charts
    from mvcore.measure import clip_summary, frame_table

    clip = downloads.clip
    st.markdown("**Measurements**")
    mm = st.number_input("Pixel size (mm per pixel; 0 keeps lengths in pixels)", min_value=0.0,
                         value=float(clip.mm_per_px or 0.0), step=0.01, format="%.4f", key=f"seg_mm_{clip.name}",
                         help="Read from the DICOM file's ultrasound regions where it has them.")
    m, frames_csv, files = downloads.measured(mm)
    unit, summary = m.unit, clip_summary(m)
    card = {"Heart rate": ("heart_rate_bpm", "{:.0f} bpm"), "Cycles": ("cycles", "{}"),
            "Mean open duration": ("mean_open_duration_ms", "{:.0f} ms"),
            "Max opening": (f"max_opening_{unit}", "{:.1f} " + unit)}
    for column, (label, (key, form)) in zip(st.columns(len(card)), card.items()):
        column.metric(label, form.format(summary[key]) if math.isfinite(summary[key]) else "n/a")
    source = {"dicom": "from the DICOM file", "user": "entered", "none": "unknown: lengths in pixels"}
    st.caption(f"Pixel size {source[m.calibration.source]}"
               + (f" ({m.calibration.mm_per_px:.4f} mm)" if m.calibration.mm_per_px else "")
               + f"; {clip.fps:.1f} frames/s. Open or shut from the mask's leaflets on each frame.")
    st.plotly_chart(charts.timeline_chart(frame_table(m), unit), key="seg_timeline")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Measurements per frame CSV", frames_csv.read_bytes(), frames_csv.name, "text/csv",
                       on_click="ignore", key="dl_measure_frames")
    c2.download_button("Cycles CSV", files.cycles_csv.read_bytes(), files.cycles_csv.name, "text/csv",
                       on_click="ignore", key="dl_measure_cycles")
    c3.download_button("Summary JSON", files.summary_json.read_bytes(), files.summary_json.name,
                       "application/json", on_click="ignore", key="dl_measure_summary")
