"""The web app's home page: `streamlit run app.py`.

What the app does, one click to segment a sample, the models and samples at hand. The other pages
are pages/N_Name.py (streamlit's pages folder); each is a thin layer over mvcore.
"""

import streamlit as st

from mvcore.app import storage, summaries
from mvcore.app.widgets import setup_page

setup_page("Mitral valve segmentation")

st.title("Mitral valve segmentation")
st.markdown("Find the mitral valve leaflets on every frame of an echocardiography clip, train your own "
            "model on the AML mitral-valve data set, and score it.")

models = storage.list_models()
samples = storage.list_samples()
demo = next((p for p in samples if p.name == "train_small.pkl"), samples[0] if samples else None)

left, right = st.columns([2, 3], gap="large")
with left:
    st.subheader("Try it")
    st.write("Segment a bundled sample clip (it has a label, so you also see the IoU).")
    ready = bool(models and demo)
    if st.button("Segment a sample clip", type="primary", icon=":material/play_arrow:", disabled=not ready):
        st.session_state["segment_request"] = {"sample": demo.name, "run": True}
        st.switch_page("pages/1_Segment_a_clip.py")
    if not models:
        st.warning("No model found: models/default is missing. Train one on the Train page.")

with right:
    st.subheader("Pages")
    for page, text in (("pages/1_Segment_a_clip.py", "Upload a clip (MP4, AVI, GIF, MOV, DICOM, .npy, AML .pkl), get the "
                                            "overlay video, per-frame chart and downloads."),
                       ("pages/2_Data.py", "Look inside an AML train.pkl / test.pkl: sizes, labels, boxes."),
                       ("pages/3_Train.py", "Train or fine-tune a model in the background and watch its curves."),
                       ("pages/4_Evaluate.py", "Score a model on labelled clips: per-video IoU and worst frames.")):
        c1, c2 = st.columns([1, 3])
        c1.page_link(page)
        c2.caption(text)

st.divider()
m, s = st.columns([3, 2], gap="large")
with m:
    st.markdown("**Models**")
    if models:
        st.dataframe(summaries.model_rows(models), hide_index=True)
with s:
    st.markdown("**Bundled samples**")
    st.markdown("\n".join(f"- `{p.name}` ({p.stat().st_size / 2**20:.1f} MB)" for p in samples) or "none")
