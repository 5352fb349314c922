"""Segment a clip: pick or upload it, choose a model, watch the overlay, download the results."""

import time

import streamlit as st

from mvcore.app import charts, housekeeping, outputs, storage
from mvcore.app.editor import corrections_section
from mvcore.app.widgets import measurement_panel, pick_data, pick_model, segmenter_for, setup_page
from mvcore.errors import InputError

MAX_KEPT_RESULTS = 3

setup_page("Segment a clip")
st.title("Segment a clip")
st.caption("Upload an echo clip (video, DICOM cine, still image, NumPy array or AML pickle) or pick a sample, then "
           "segment the mitral valve on every frame. Labelled clips also show the truth (green) and IoU.")

request = st.session_state.pop("segment_request", None)  # set by the home page's one-click button
if request:
    st.session_state.update(seg_source="Sample", seg_sample=request["sample"], seg_clip=request.get("clip"))

pick, settings = st.columns([3, 2], gap="large")
with pick:
    picked = pick_data("seg")
with settings:
    model = pick_model(key="seg_model")
    style = st.radio("Overlay", ["fill", "contour"], horizontal=True, key="seg_style",
                     help="Mask drawn as a translucent fill or as its outline.")

clip = None
if picked:
    path, clips = picked
    with pick:
        if len(clips) > 1:
            names = [c.name for c in clips]
            if st.session_state.get("seg_clip") not in names:
                labelled = sorted((c for c in clips if c.is_labelled), key=lambda c: c.dataset != "expert")
                st.session_state["seg_clip"] = labelled[0].name if labelled else names[0]
            name = st.selectbox(f"Clip ({len(clips)} in the file)", names, key="seg_clip",
                                format_func=lambda n: n + ("  (labelled)" if clips[names.index(n)].is_labelled else ""))
            clip = clips[names.index(name)]
        else:
            clip = clips[0]
        st.caption(f"{clip.name}: {clip.n_frames} frame{'s' * (clip.n_frames != 1)}, {clip.shape[0]} x {clip.shape[1]} pixels, "
                   f"{clip.fps:.0f} fps" + (", labelled" if clip.is_labelled else ""))

segmenter = segmenter_for(model) if model else None
results = st.session_state.setdefault("seg_results", {})
key = ((str(path), storage.file_key(path), clip.name, str(model.path), model.version)
       if clip is not None and model else None)

with settings:
    clicked = st.button("Segment", type="primary", disabled=segmenter is None or clip is None,
                        width="stretch")

if segmenter is not None and clip is not None and (clicked or (request and request.get("run"))):
    if key not in results:
        bar = st.progress(0.0, text="Segmenting...")
        started = time.time()
        result = segmenter.segment(clip, progress=lambda f: bar.progress(f, text=f"Segmenting... {f:.0%}"))
        downloads = outputs.ClipOutputs(clip, result, storage.results_dir(*key))
        bar.progress(1.0, text="Writing the overlay video, GIF and per-frame table...")
        downloads.files(style)
        bar.empty()
        removed = housekeeping.keep_under_cap()
        if removed:
            st.toast(f"The workspace passed its {housekeeping.MAX_GB_ENV} cap: the {len(removed)} oldest cached "
                     "results were removed (they are remade when needed).")
        results[key] = {"downloads": downloads, "seconds": time.time() - started}
        for old in list(results)[:-MAX_KEPT_RESULTS]:
            del results[old]

shown = results.get(key)
if shown is None:
    st.info("Choose a clip and a model, then press **Segment**.")
    st.stop()

downloads = shown["downloads"]
clip, result = downloads.clip, downloads.result
rows = downloads.rows()
files = downloads.files(style)
st.divider()
st.subheader(f"{clip.name}")
st.caption(f"Segmented {clip.n_frames} frame{'s' * (clip.n_frames != 1)} in {shown['seconds']:.1f} s. Red: predicted valve"
           + ("; green: the label." if clip.is_labelled else "."))
if result.location.unsure:
    st.warning(result.location.warning(), icon=":material/warning:")

width = "stretch" if clip.shape[1] >= 400 else 400  # small clips are not blown up to the column
video_col, frame_col = st.columns(2, gap="large")
with video_col:
    st.video(str(files.mp4), loop=True, autoplay=True, muted=True, width=width)


@st.fragment
def frame_viewer():
    """One frame large with its contour; moving the slider reruns only this part."""
    start = clip.frames[0] if clip.is_labelled else 0
    t = st.slider("Frame", 0, clip.n_frames - 1, start, key=f"seg_frame_{clip.name}") if clip.n_frames > 1 else 0
    row = rows[t]
    st.image(charts.frame_image(clip, result.mask, t, "contour"), width=width,
             caption=f"frame {t}: area {row['area_px']} px, confidence {row['mean_confidence']:.2f}"
             + (f", IoU {row['iou']:.3f}" if row["iou"] is not None else ""))


with frame_col:
    frame_viewer()

st.plotly_chart(charts.frame_chart(rows), key="seg_chart")
measurement_panel(downloads)

st.markdown("**Downloads**")
stem = files.mp4.stem
d1, d2, d3, d4, d5 = st.columns(5)
d1.download_button("Overlay MP4", files.mp4.read_bytes(), f"{stem}_overlay.mp4", "video/mp4",
                   on_click="ignore", key="dl_mp4")
d2.download_button("Overlay GIF", files.gif.read_bytes, f"{stem}_overlay.gif", "image/gif",
                   on_click="ignore", key="dl_gif")
d3.download_button("Masks .npz", downloads.masks_npz, f"{stem}_masks.npz", "application/octet-stream",
                   on_click="ignore", key="dl_npz")
d4.download_button("Per-frame CSV", files.frames_csv.read_bytes, files.frames_csv.name, "text/csv",
                   on_click="ignore", key="dl_csv")

source = clip.source
if source.lower().endswith((".pkl", ".pickle", ".pkl.gz", ".pickle.gz")) and picked and segmenter is not None:
    all_clips = picked[1]
    sub_key = ("submission", key[0], key[1], key[3], key[4])
    with d5:
        if st.session_state.get("seg_submission", (None,))[0] != sub_key:
            if st.button(f"Segment all {len(all_clips)} clips", help="For the leaderboard's submission CSV"):
                bar = st.progress(0.0, text="Segmenting every clip...")
                try:
                    csv_bytes, unsure = outputs.submission_csv(segmenter, all_clips, progress=lambda f: bar.progress(f))
                    st.session_state["seg_submission"] = (sub_key, csv_bytes, unsure)
                except InputError as err:
                    st.error(str(err))
                bar.empty()
                st.rerun()
        else:
            _, csv_bytes, unsure = st.session_state["seg_submission"]
            st.download_button("Submission CSV", csv_bytes, "submission.csv", "text/csv", on_click="ignore",
                               key="dl_submission")
            if unsure:
                st.warning(f"The locator did not see a valve in {len(unsure)} of the {len(all_clips)} clips "
                           f"({', '.join(unsure)}): their crops are guesses. Check their overlays.",
                           icon=":material/warning:")

st.divider()
corrections_section(clip, result, model, st.session_state.get(f"seg_frame_{clip.name}", 0))
