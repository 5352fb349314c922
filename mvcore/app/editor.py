"""The Segment page's corrections: a mask editor on one frame, the corrected frames, fine-tuning on
them in the background, and the clip before and after.

Imports streamlit (with mvcore.app.widgets, the only modules that do); what is stored and how is in
mvcore.app.corrections, the stroke and label maths in mvcore.corrections.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mvcore.app import corrections, jobs, outputs, storage
from mvcore.app.widgets import segmenter_for
from mvcore.corrections import ADD_COLOUR, ERASE_COLOUR, View, apply_strokes
from mvcore.errors import InputError
from mvcore.files import sanitise_name
from mvcore.video import side_by_side_frames, write_mp4

CANVAS_PX = 512  # side of the editor's square on screen (fits 3/5 of a 1400-pixel-wide window)


def corrections_section(clip, result, model, frame: int) -> None:
    """Everything about correcting `clip` (segmented as `result` by ModelInfo `model`) at `frame`."""
    st.subheader("Correct the masks")
    st.caption("Paint the valve where the model missed it, erase it where it is wrong, save the frame as a label; "
               "then fine-tune the model on your corrected frames. Corrections are kept in the workspace.")
    editing = st.session_state.get("edit_frame")
    if editing is None or editing[0] != corrections.clip_key(clip):
        if st.button("Correct this frame", icon=":material/brush:", help=f"Open the editor on frame {frame}"):
            st.session_state["edit_frame"] = (corrections.clip_key(clip), frame)
            st.rerun()
    else:
        mask_editor(clip, result, editing[1])
    corrected_list(clip)
    fine_tune_controls(clip, model)


def mask_editor(clip, result, t: int) -> None:
    """The editor on frame `t`: the stored correction, else the prediction, under paint and erase strokes."""
    stored = corrections.load_corrections(clip).get(t)
    start = stored if stored is not None else result.mask[:, :, t]
    st.markdown(f"**Frame {t}**, starting from " + ("your saved label" if stored is not None else "the prediction"))
    c = st.columns([1, 1, 1])
    tool = c[0].radio("Brush", ["Paint valve", "Erase"], horizontal=True, key="edit_tool")
    brush = c[1].slider("Brush size (frame pixels)", 1, 20, 4, key="edit_brush")
    zoomed = c[2].toggle("Zoom on the valve", value=True, key="edit_zoom")
    focus = start if start.any() else result.mask.any(axis=2)
    view = View.around(focus, CANVAS_PX) if zoomed else View.around(np.ones_like(focus), CANVAS_PX)
    background = view.cut(start_image(clip, start, t))
    left, right = st.columns([3, 2], gap="medium")
    with left:
        canvas = st_canvas(stroke_width=max(1, int(round(brush * view.zoom))),
                           stroke_color=ADD_COLOUR if tool == "Paint valve" else ERASE_COLOUR,
                           background_image=_png(background), height=background.shape[0], width=background.shape[1],
                           drawing_mode="freedraw", key=f"canvas_{corrections.clip_key(clip)}_{t}_{zoomed}")
        st.caption("Toolbar: undo, redo, and the bin resets to the starting mask.")
    strokes = (canvas.json_data or {}).get("objects", [])
    corrected = apply_strokes(start, strokes, view)
    with right:
        st.image(view.cut(start_image(clip, corrected, t)), width="stretch",
                 caption=f"The label to save: {int(corrected.sum())} px")
    b = st.columns(3)
    if b[0].button("Save as label", type="primary", icon=":material/save:"):
        corrections.save_correction(clip, t, corrected)
        st.session_state.pop("edit_frame")
        st.toast(f"Frame {t} saved as a label.")
        st.rerun()
    if b[1].button("Close the editor"):
        st.session_state.pop("edit_frame")
        st.rerun()


def start_image(clip, mask, t: int) -> np.ndarray:
    """Frame `t` of `clip` with `mask` bool (H, W) filled in red: uint8 RGB (H, W, 3)."""
    from mvcore.video import overlay_frames

    return overlay_frames(clip.video[:, :, t:t + 1], mask[:, :, None], "fill", alpha=0.35)[0]


def _png(image: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", image[:, :, ::-1])[1].tobytes()


def corrected_list(clip) -> None:
    """The corrected frames, each with reopen and delete, and the train.pkl download."""
    frames = corrections.corrected_frames(clip)
    if not frames:
        st.caption("No corrected frames for this clip yet.")
        return
    st.markdown(f"**Corrected frames** ({len(frames)})")
    for t in frames:
        row = st.columns([2, 1, 1, 6])
        row[0].write(f"frame {t}")
        if row[1].button("Reopen", key=f"reopen_{t}"):
            st.session_state["edit_frame"] = (corrections.clip_key(clip), t)
            st.rerun()
        if row[2].button("Delete", key=f"delete_{t}"):
            corrections.delete_correction(clip, t)
            st.rerun()
    st.download_button("Download train.pkl", lambda: corrections.export_train_pickle(clip).read_bytes(),
                       f"{sanitise_name(clip.name, 'clip')}_train.pkl", "application/octet-stream",
                       on_click="ignore", key="dl_corrections",
                       help="The corrected frames as an AML train record: `python -m mvcore train train.pkl "
                            "--init MODEL --out NEW`")


def fine_tune_controls(clip, model) -> None:
    """Start a fine-tuning of `model` on the corrections; follow the clip's latest one."""
    job = clip_job(clip)
    if corrections.corrected_frames(clip) and (job is None or job.status() != "running"):
        c = st.columns([2, 1])
        name = c[0].text_input("New model name", value=f"{model.name}-corrected-{time.strftime('%Y%m%d-%H%M')}",
                               key="tune_name")
        if c[1].button("Fine-tune on my corrections", type="primary", icon=":material/model_training:"):
            try:
                corrections.start_fine_tune(clip, model.path, name)
            except InputError as err:
                st.error(str(err))
            else:
                st.rerun()
    if job is not None:
        running = job.status() == "running"
        st.fragment(run_every=2.0 if running else None)(follow_job)(clip, job.id)


def clip_job(clip) -> jobs.Job | None:
    """The latest training job, when it fine-tunes on this clip's corrections."""
    job = jobs.latest_job()
    pickle = str(corrections.clip_folder(clip) / "train.pkl")
    return job if job is not None and job.info.get("data") == [pickle] else None


def follow_job(clip, job_id: str) -> None:
    """Progress and cancel while the job runs; the clip before and after once it is done."""
    job = jobs.Job(storage.workspace_dir("jobs") / job_id)
    status, progress = job.status(), job.progress()
    if status == "running":
        st.progress(progress.fraction, text=f"Fine-tuning '{job.name}': epoch {progress.done_epochs} of "
                                            f"{progress.planned_epochs}")
        if st.button("Cancel fine-tuning", icon=":material/stop:"):
            jobs.cancel(job)
            st.rerun(scope="app")
        st.session_state["tune_watching"] = job.id
        return
    if st.session_state.pop("tune_watching", None) == job.id:
        st.rerun(scope="app")  # refresh the model list and stop polling
    if status == "done":
        before_after(clip, job)
    elif status == "failed":
        st.error(f"Fine-tuning failed: {job.error()}")
    else:
        st.warning(f"Fine-tuning '{job.name}' was cancelled; the models are as they were.")


def before_after(clip, job: jobs.Job) -> None:
    """The clip segmented by the starting and the fine-tuned model side by side, with IoU on each corrected frame."""
    models = {m.path.resolve(): m for m in storage.list_models()}
    pair = [models.get(p.resolve()) for p in (Path(job.info["init"]), job.model_dir)]
    if None in pair:
        return
    st.success(f"Model '{job.name}' is ready and in the model list; here is the clip before and after.")
    segmented = [segmented_with(clip, info) for info in pair]
    if None in segmented:
        return
    masks = {info.name: s.result.mask for info, s in zip(pair, segmented)}
    path = segmented[1].folder / f"before_after_{corrections.clip_key(clip)}.mp4"
    if not path.is_file():
        with st.spinner("Writing the side-by-side video..."):
            write_mp4(side_by_side_frames(clip.video, *masks.values()), path, clip.fps)
    st.markdown(f"**Left: {pair[0].name}; right: {pair[1].name}**")
    st.video(str(path), loop=True, autoplay=True, muted=True)
    st.dataframe(corrections.iou_rows(clip, masks), hide_index=True)


def segmented_with(clip, info) -> outputs.ClipOutputs | None:
    """`clip` segmented by ModelInfo `info` (kept in the session); None, with the error shown, when
    the model cannot be loaded."""
    cache = st.session_state.setdefault("tune_results", {})
    key = (corrections.clip_key(clip), str(info.path), info.version)
    if key not in cache:
        segmenter = segmenter_for(info)
        if segmenter is None:
            return None
        with st.spinner(f"Segmenting with {info.name}..."):
            cache[key] = outputs.ClipOutputs(clip, segmenter.segment(clip), storage.results_dir(*key))
    return cache[key]
