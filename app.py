"""The web app: `streamlit run app.py`. Each page is a thin layer over mvcore (see pages/)."""

import streamlit as st

st.set_page_config(page_title="Mitral valve segmentation", page_icon=":material/ecg_heart:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/segment.py", title="Segment a clip", icon=":material/movie:"),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
]

st.navigation(PAGES).run()
