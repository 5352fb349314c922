"""Data: what an AML train.pkl / test.pkl holds: clips, sizes, labels and boxes; and the workspace's storage."""

import streamlit as st

from mvcore.app import housekeeping, storage, summaries
from mvcore.app.widgets import pick_data, setup_page

setup_page("Data")
st.title("Data")
st.caption("Open an AML pickle (train.pkl or test.pkl). It is read with a restricted unpickler that runs no code. "
           "Annotated frames show the label in red and the valve box in yellow.")


@st.cache_data(max_entries=8, show_spinner="Drawing the frames...")
def sheet(path: str, version: str, names: tuple[str, ...], _clips):
    from mvcore.video import contact_sheet

    chosen = [c for c in _clips if c.name in names]
    return contact_sheet(chosen, max_clips=len(chosen))


with st.expander("Storage"):
    st.dataframe(housekeeping.storage_rows(), hide_index=True)
    st.caption("Models and a running job's files are never removed. Cached results are remade when a clip is "
               f"segmented again; set {housekeeping.MAX_GB_ENV} to remove the oldest ones past a size.")
    for part, label in (("results", "Clear results"), ("uploads", "Clear uploads"), ("jobs", "Clear finished jobs")):
        if st.button(label, key=f"clear_{part}"):
            st.success(f"{label}: {housekeeping.clear(part) / 1e6:.1f} MB freed.")

pick_col, summary_col = st.columns([1, 2], gap="large")
with pick_col:
    picked = pick_data("data", aml_only=True)
if not picked:
    st.stop()
path, clips = picked
summary = summaries.dataset_summary(clips)

with summary_col:
    cols = st.columns(5)
cols[0].metric("Clips", summary["clips"])
cols[1].metric("Amateur", summary["amateur"])
cols[2].metric("Expert", summary["expert"])
cols[3].metric("Labelled", summary["labelled"])
cols[4].metric("Frames per clip", "{}-{}".format(*summary["frames"]))
summary_col.caption(f"{path.name}: frame sizes {summary['size']} pixels (rows x columns).")

table, grid = st.columns([1, 1], gap="large")
with table:
    st.dataframe(summaries.clip_rows(clips), hide_index=True)
with grid:
    names = [c.name for c in clips]
    shown = st.multiselect("Clips to draw", names, default=names[:4], key=f"data_shown_{path}",
                           help="One row of tiles per clip: its annotated frames (or 3 spread frames).")
    if shown:
        st.image(sheet(str(path), storage.file_key(path), tuple(shown), clips), width="stretch")
