"""The web app's side of mvcore: what `app.py` and `pages/` call. Only `widgets` and `editor`
import streamlit.

- `storage`: the workspace folder (uploads, models trained here, jobs, results), the bundled samples.
- `summaries`: table rows of clips, data sets and models.
- `outputs`: a segmented clip's downloads, the masks an evaluation scores, a set's submission CSV.
- `jobs`: background training processes and their progress.
- `charts`: plotly figures and frame pictures.
- `corrections`: a clip's corrected frames in the workspace, their train.pkl, fine-tuning on them.
- `editor`: the Segment page's mask editor, corrected frames and before/after (streamlit).
- `widgets`: page setup, cached loaders, the model and data pickers, upload ingest (streamlit).

The core (data, synth, model, train, predict, export, video) never imports this package.
"""
