"""Tests for mvcore.data: every reader of user input, its round trips and its one-line errors."""

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from mvcore import data
from mvcore.data.media import frames_last
from mvcore.errors import InputError

H, W, T = 16, 24, 6
DROP = object()  # marks a key to leave out of a record


def make_video(t=T, h=H, w=W):
    """uint8 (h, w, t) with smooth content, so lossy codecs keep it close."""
    yy, xx, tt = np.mgrid[:h, :w, :t]
    return (128 + 90 * np.sin(xx / 5 + tt / 3) * np.cos(yy / 6)).astype(np.uint8)


def make_record(**changes):
    """One valid AML train record; keyword arguments replace keys (DROP removes one)."""
    label = np.zeros((H, W, T), bool)
    label[5:9, 6:12, [0, 2, 4]] = True
    box = np.zeros((H, W), bool)
    box[3:11, 4:14] = True
    record = {"name": "ABCDE12345", "video": make_video(), "box": box, "label": label,
              "frames": [0, 2, 4], "dataset": "expert"}
    record.update(changes)
    return {key: value for key, value in record.items() if value is not DROP}


def write_pickle(path, obj, protocol=4, compress=True):
    opener = gzip.open if compress else open
    with opener(path, "wb") as file:
        pickle.dump(obj, file, protocol=protocol)
    return path


def write_mp4(path, video, fps=20.0):
    """A real MP4 (OpenCV 'mp4v') of uint8 (H, W, T) grey frames."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (video.shape[1], video.shape[0]), isColor=False)
    for t in range(video.shape[2]):
        writer.write(np.ascontiguousarray(video[:, :, t]))
    writer.release()
    return path


def write_h264(path, video, fps=20.0):
    """H.264 MP4 bytes with the index first ('faststart'): a cut file still opens."""
    import imageio.v3 as iio

    iio.imwrite(path, np.moveaxis(video, 2, 0), fps=fps, codec="libx264",
                output_params=["-movflags", "+faststart"])
    return path.read_bytes()


def pydicom_file(name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, f"pydicom test file {name} is missing: install requirements-dev.txt (pydicom-data)"
    return path


# --- bad inputs: one table ----------------------------------------------------------------------

class Payload:
    """Pickles as a call of `func(arg)`: what a malicious pickle does on load."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def aml(tmp, *records, name="bad.pkl", **kw):
    return write_pickle(tmp / name, list(records), **kw)


def file_with(tmp, name, content):
    path = tmp / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def npy(tmp, name, array):
    np.save(tmp / name, array)
    return tmp / name


def truncated(tmp, name, source_bytes):
    path = tmp / name
    path.write_bytes(source_bytes[: len(source_bytes) // 2])
    return path


def empty_folder(tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty"


def folder_of_text(tmp):
    (tmp / "notes").mkdir()
    (tmp / "notes" / "readme.txt").write_text("hello")
    return tmp / "notes"


def image_file(path, frame):
    """Write uint8 (H, W) as an image file whose type the suffix of `path` names."""
    from PIL import Image

    Image.fromarray(frame).save(path)
    return path


def tiff_pages(tmp, videos):
    """A multi-page TIFF, one page per uint8 (H, W, 1) in `videos`."""
    from PIL import Image

    pages = [Image.fromarray(v[:, :, 0]) for v in videos]
    pages[0].save(tmp / "pages.tif", save_all=True, append_images=pages[1:])
    return tmp / "pages.tif"


def frame_folder(tmp, videos, names=None):
    """A folder of PNG frames frame_<i>.png, one per uint8 (H, W, 1) in `videos`, beside the hidden
    `._frame_0.png` that macOS leaves in copied folders (not an image; never a frame)."""
    folder = tmp / "frames"
    folder.mkdir()
    for name, video in zip(names or [f"frame_{i}.png" for i in range(len(videos))], videos):
        image_file(folder / name, video[:, :, 0])
    (folder / "._frame_0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    return folder


def read_train(path):
    return data.load_aml(path, split="train")


BAD_INPUTS = [  # (id, make(tmp_path) -> path, reader, words the message must hold)
    ("aml_missing_video", lambda t: aml(t, make_record(video=DROP)), data.load_inputs, "'video'"),
    ("aml_train_missing_box", lambda t: aml(t, make_record(box=DROP)), read_train, "'box'"),
    ("aml_label_without_frames", lambda t: aml(t, make_record(frames=DROP)), data.load_aml,
     "'frames'"),
    ("aml_video_float", lambda t: aml(t, make_record(video=make_video().astype(np.float32))),
     data.load_aml, "'video' is a float32"),
    ("aml_video_int64", lambda t: aml(t, make_record(video=make_video().astype(np.int64))),
     data.load_aml, "'video' is int64"),
    ("aml_label_uint8", lambda t: aml(t, make_record(label=np.zeros((H, W, T), np.uint8))),
     data.load_aml, "'label' is uint8"),
    ("aml_label_shape", lambda t: aml(t, make_record(label=np.zeros((H, W, T + 1), bool))),
     data.load_aml, "'label' has shape"),
    ("aml_video_2d", lambda t: aml(t, make_record(video=make_video()[:, :, 0])), data.load_aml,
     "shape (16, 24)"),
    ("aml_box_shape", lambda t: aml(t, make_record(box=np.zeros((H, W + 1), bool))),
     data.load_aml, "'box' has shape"),
    ("aml_frames_out_of_range", lambda t: aml(t, make_record(frames=[0, 2, T])), data.load_aml,
     "outside"),
    ("aml_dataset", lambda t: aml(t, make_record(dataset="novice")), data.load_aml, "'novice'"),
    ("aml_name_is_a_path", lambda t: aml(t, make_record(name="../../etc/x")), data.load_aml, "path separator"),
    ("aml_empty_list", lambda t: aml(t), data.load_aml, "empty"),
    ("aml_not_a_list", lambda t: write_pickle(t / "d.pkl", make_record()), data.load_aml,
     "list of video records"),
    ("aml_duplicate_names", lambda t: aml(t, make_record(), make_record()), data.load_aml,
     "several records are named"),
    ("labels_without_label", lambda t: aml(t, make_record(label=DROP, frames=DROP)),
     data.load_labels, "'label'"),
    ("pickle_garbage", lambda t: file_with(t, "x.pkl", "not a pickle at all"),
     data.load_aml, "not a readable AML pickle"),
    ("pickle_truncated_gzip",
     lambda t: truncated(t, "x.pkl", (aml(t, make_record(), name="ok.pkl")).read_bytes()),
     data.load_aml, "not a readable AML pickle"),
    ("pickle_malicious", lambda t: aml(t, Payload(os.system, f"touch {t}/pwned")),
     data.load_inputs, "refused to load pickle"),
    ("mp4_empty", lambda t: file_with(t, "e.mp4", b""),
     data.load_inputs, "cannot be played"),
    ("mp4_text", lambda t: file_with(t, "t.mp4", "hello"), data.read_video,
     "cannot be played"),
    ("mp4_truncated",
     lambda t: truncated(t, "cut.mp4", write_mp4(t / "whole.mp4", make_video(t=30)).read_bytes()),
     data.read_video, "cannot be played"),  # 'mp4v' writes the index last: nothing opens
    ("mp4_truncated_index_first",
     lambda t: truncated(t, "cut.mp4", write_h264(t / "whole.mp4", make_video(t=30, h=32, w=48))),
     data.read_video, "truncated"),
    ("dcm_garbage", lambda t: file_with(t, "g.dcm", "x" * 300),
     data.load_inputs, "not a DICOM file"),
    ("dcm_truncated",
     lambda t: truncated(t, "cut.dcm", Path(pydicom_file("emri_small.dcm")).read_bytes()),
     data.read_dicom, "DICOM"),
    ("npy_4d", lambda t: npy(t, "a.npy", np.zeros((H, W, T, 3))), data.load_inputs,
     "3 axes"),
    ("npy_no_frames", lambda t: npy(t, "z.npy", np.zeros((H, W, 0), np.uint8)), data.load_inputs,
     "no frames"),
    ("aml_dataset_array", lambda t: aml(t, make_record(dataset=np.array(["expert"]))), data.load_aml,
     "'dataset' is a <U6 array"),
    ("aml_dataset_number", lambda t: aml(t, make_record(dataset=3)), data.load_aml, "'dataset' is 3"),
    ("aml_objects_nested_in_a_list", lambda t: aml(t, make_record(frames=[0, np.array([{}], dtype=object)])),
     data.load_aml, "'frames'[1] is a object array"),
    ("aml_objects_in_a_dict", lambda t: aml(t, make_record(extra={"a": [np.array([1.5])]})),
     data.load_aml, "'extra'['a'][0] is a float64 array"),
    ("aml_key_not_a_string", lambda t: aml(t, {**make_record(), 3: "x"}), data.load_aml, "has a key 3"),
    ("png_garbage", lambda t: file_with(t, "f.png", "not an image"), data.load_inputs, "not a readable image"),
    ("tiff_pages_of_two_sizes", lambda t: tiff_pages(t, [make_video(t=1), make_video(t=1, h=20)]),
     data.load_inputs, "pages differ in size"),
    ("frames_of_two_sizes", lambda t: frame_folder(t, [make_video(t=1), make_video(t=1, w=30)]),
     data.load_inputs, "a clip's frames must all be the same size"),
    ("npy_objects", lambda t: npy(t, "o.npy", np.array([{}], dtype=object)),
     data.read_array, "not a readable NumPy file"),
    ("npy_bad_axis", lambda t: npy(t, "b.npy", make_video()),
     lambda p: data.read_array(p, axis="TWH"), "axis"),
    ("folder_empty", empty_folder, data.load_inputs, "empty"),
    ("folder_nothing_readable", folder_of_text, data.load_inputs, "holds no videos"),
    ("unsupported_suffix", lambda t: file_with(t, "v.xyz", "x"),
     data.load_inputs, "unsupported file type '.xyz'"),
    ("missing_file", lambda t: t / "nowhere.mp4", data.load_inputs, "not found"),
    ("missing_file_aml", lambda t: t / "nowhere.pkl", data.load_aml, "not found"),
]


@pytest.mark.parametrize("make, reader, words", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gives_one_line_error_starting_with_the_path(tmp_path, make, reader, words):
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        reader(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert words in message
    assert "\n" not in message


# --- malicious pickles run nothing --------------------------------------------------------------

def os_system_protocol0(target):
    """Hand-written protocol-0 pickle calling os.system (how exploits are usually written)."""
    return f"cos\nsystem\n(S'touch {target}'\ntR.".encode()


MALICIOUS = [  # (id, pickle bytes for a target file, the global the message must name)
    ("posix_system", lambda target: pickle.dumps([Payload(os.system, f"touch {target}")], 2),
     f"{os.system.__module__}.system"),
    ("builtins_eval", lambda target: pickle.dumps(
        Payload(eval, f"__import__('os').system('touch {target}')"), 4), "builtins.eval"),
    ("os_system_handwritten", os_system_protocol0, "os.system"),
]


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("make, global_name", [case[1:] for case in MALICIOUS],
                         ids=[case[0] for case in MALICIOUS])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, make, global_name, compress):
    target = tmp_path / "pwned"
    payload = make(target)
    path = tmp_path / "evil.pkl"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    with pytest.raises(InputError, match="refused to load pickle") as caught:
        data.load_pickle(path)
    assert f"references {global_name}, which is not allowed" in str(caught.value)
    assert not target.exists()


# --- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol, compress", [(2, True), (4, True), (5, True), (2, False)])
def test_aml_pickle_round_trip(tmp_path, protocol, compress):
    test_record = {"name": "TEST000001", "video": make_video(t=4), "fps": 30.0}
    path = write_pickle(tmp_path / "train.pkl", [make_record(), test_record], protocol, compress)
    train, test = data.load_aml(path)
    expected = make_record()
    assert train.name == "ABCDE12345" and train.dataset == "expert" and train.fps == 50.0
    assert np.array_equal(train.video, expected["video"]) and train.video.dtype == np.uint8
    assert np.array_equal(train.label, expected["label"]) and train.label.dtype == bool
    assert np.array_equal(train.box, expected["box"]) and train.frames == [0, 2, 4]
    assert train.is_labelled and train.source == str(path)
    assert test.name == "TEST000001" and test.fps == 30.0 and test.label is None
    assert not test.is_labelled


def test_load_labels_from_test_labels_and_train_files(tmp_path):
    record = make_record()
    test_labels = {key: record[key] for key in ("name", "frames", "label")}
    for path in (write_pickle(tmp_path / "test_labels.pkl", [test_labels], 2),
                 write_pickle(tmp_path / "train.pkl", [record])):
        frames, label = data.load_labels(path)["ABCDE12345"]
        assert frames == [0, 2, 4] and np.array_equal(label, record["label"])
    with pytest.raises(InputError, match="missing key"):
        data.load_aml(tmp_path / "test_labels.pkl")


def test_mp4_round_trip_keeps_frames_and_fps(tmp_path):
    video = make_video(t=15, h=32, w=48)
    clip = data.read_video(write_mp4(tmp_path / "echo.mp4", video, fps=20.0))
    assert clip.shape == video.shape and clip.video.dtype == np.uint8
    assert clip.fps == pytest.approx(20.0) and clip.name == "echo"
    assert np.abs(clip.video.astype(int) - video).mean() < 8


def test_gif_round_trip_keeps_frames_and_fps(tmp_path):
    import imageio.v3 as iio

    video = make_video(t=5)
    iio.imwrite(tmp_path / "loop.gif", np.moveaxis(video, 2, 0), duration=50, loop=0)
    clip = data.read_video(tmp_path / "loop.gif")
    assert clip.shape == video.shape and clip.fps == pytest.approx(20.0)
    assert np.abs(clip.video.astype(int) - video).max() <= 2


ARRAYS = [  # (id, array as saved, axis, expected uint8 (H, W, T))
    ("uint8_hwt", make_video(), "HWT", make_video()),
    ("uint8_thw", np.moveaxis(make_video(), 2, 0), "THW", make_video()),
    ("float01", make_video() / 255.0, "HWT", make_video()),
    ("bool", make_video() > 128, "HWT", (make_video() > 128).astype(np.uint8) * 255),
    ("int16_clipped", make_video().astype(np.int16) * 2 - 100, "HWT",
     np.clip(make_video().astype(int) * 2 - 100, 0, 255).astype(np.uint8)),
]


@pytest.mark.parametrize("array, axis, expected", [c[1:] for c in ARRAYS],
                         ids=[c[0] for c in ARRAYS])
def test_npy_round_trip(tmp_path, array, axis, expected):
    np.save(tmp_path / "clip.npy", array)
    clip = data.read_array(tmp_path / "clip.npy", axis=axis)
    assert clip.name == "clip" and clip.video.dtype == np.uint8
    assert np.array_equal(clip.video, expected) and clip.video.flags.c_contiguous


def test_npz_gives_one_clip_per_array(tmp_path):
    np.savez(tmp_path / "two.npz", first=make_video(), second=make_video(t=3))
    first, second = data.read_arrays(tmp_path / "two.npz")
    assert (first.name, second.name) == ("first", "second") and second.n_frames == 3
    assert data.read_array(tmp_path / "two.npz").name == "two"


# --- DICOM files no one here made --------------------------------------------------------------

def test_real_multiframe_ybr_jpeg_dicom():
    import pydicom
    from pydicom.pixels import pixel_array

    path = pydicom_file("color3d_jpeg_baseline.dcm")
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert header.PhotometricInterpretation == "YBR_FULL_422"
    clip = data.read_dicom(path)
    assert clip.shape == (480, 640, 120) and clip.video.dtype == np.uint8
    assert clip.fps == pytest.approx(1000.0 / float(header.FrameTime))  # FrameTime 33.333 ms
    luma = pixel_array(path, index=60, as_rgb=False)[..., 0]  # the Y of YBR is the grey level
    error = np.abs(clip.video[:, :, 60].astype(int) - luma)  # up to 7 where colour RGB clips
    assert error.mean() < 0.5 and np.percentile(error, 99.9) <= 2


DICOMS = [  # (file, expected (H, W, T)): codecs, bit depths, colour spaces
    ("emri_small_RLE.dcm", (64, 64, 10)),  # RLE, 16-bit MONOCHROME2, multi-frame
    ("emri_small_jpeg_2k_lossless.dcm", (64, 64, 10)),  # JPEG 2000, 16-bit
    ("MR_small.dcm", (64, 64, 1)),  # uncompressed 16-bit, single frame
    ("SC_rgb_rle_2frame.dcm", (100, 100, 2)),  # RLE RGB
    ("US1_J2KR.dcm", (480, 640, 1)),  # JPEG 2000 YBR_RCT ultrasound
    ("SC_rgb_jpeg_dcmtk.dcm", (100, 100, 1)),  # JPEG baseline YBR_FULL
]


@pytest.mark.parametrize("name, shape", DICOMS, ids=[d[0] for d in DICOMS])
def test_real_dicom_files(name, shape):
    clip = data.read_dicom(pydicom_file(name))
    assert clip.shape == shape and clip.video.dtype == np.uint8 and clip.fps == 25.0
    assert clip.video.max() > clip.video.min()


def test_monochrome1_is_inverted_and_16_bit_stretched():
    import pydicom

    path = pydicom_file("RG1_UNCI.dcm")
    raw = pydicom.dcmread(path).pixel_array.astype(float)
    stretched = np.rint((raw - raw.min()) * 255 / (raw.max() - raw.min()))
    assert np.abs(data.read_dicom(path).video[:, :, 0] - (255 - stretched)).max() <= 1


def test_dicom_without_suffix_is_found_by_its_preamble(tmp_path):
    shutil.copy(pydicom_file("emri_small.dcm"), tmp_path / "IM0001")
    (clip,) = data.load_inputs(tmp_path / "IM0001")
    assert clip.name == "IM0001" and clip.shape == (64, 64, 10)


# --- load_inputs --------------------------------------------------------------------------------

def test_load_inputs_expands_a_folder_in_order_and_skips_other_files(tmp_path):
    write_pickle(tmp_path / "a_train.pkl", [make_record()])
    write_mp4(tmp_path / "b_clip.mp4", make_video(t=4, h=32, w=32))
    np.save(tmp_path / "c_array.npy", make_video())
    (tmp_path / "d_notes.txt").write_text("skipped")
    clips = data.load_inputs([tmp_path, tmp_path / "c_array.npy"])
    assert [c.name for c in clips] == ["ABCDE12345", "b_clip", "c_array", "c_array"]
    assert [c.n_frames for c in clips] == [T, 4, T, T]


@pytest.mark.parametrize("t, h, w", [(1, 5, 7), (3, 16, 4), (20, 33, 50), (7, 600, 80)])
def test_frames_last_is_the_frames_stacked_on_the_last_axis(t, h, w):
    frames = [np.random.default_rng(i).integers(0, 256, (h, w), dtype=np.uint8) for i in range(t)]
    expected = np.stack(frames, axis=2)
    for given in (frames, np.stack(frames, axis=0)):
        video = frames_last(given)
        assert video.flags.c_contiguous and np.array_equal(video, expected)


# --- still images and one-frame clips are clips ---------------------------------------------------

ONE_FRAME = make_video(t=1)
STILLS = [  # (id, make(tmp) -> path, expected name, expected frames uint8 (H, W, T), grey-level tolerance)
    ("png", lambda t: image_file(t / "still.png", ONE_FRAME[:, :, 0]), "still", ONE_FRAME, 0),
    ("jpeg", lambda t: image_file(t / "still.jpg", ONE_FRAME[:, :, 0]), "still", ONE_FRAME, 12),
    ("tiff_pages", lambda t: tiff_pages(t, [ONE_FRAME, 255 - ONE_FRAME]), "pages",
     np.concatenate([ONE_FRAME, 255 - ONE_FRAME], axis=2), 0),
    ("npy_one_frame", lambda t: npy(t, "s.npy", ONE_FRAME), "s", ONE_FRAME, 0),
    ("npy_2d_frame", lambda t: npy(t, "f.npy", ONE_FRAME[:, :, 0]), "f", ONE_FRAME, 0),
    ("mp4_one_frame", lambda t: write_mp4(t / "one.mp4", make_video(t=1, h=32, w=48)), "one",
     make_video(t=1, h=32, w=48), 12),
    ("aml_one_frame", lambda t: aml(t, make_record(video=ONE_FRAME, label=DROP, frames=DROP, box=DROP)),
     "ABCDE12345", ONE_FRAME, 0),
    ("numbered_frames", lambda t: frame_folder(t, [ONE_FRAME + i for i in range(11)], [f"f{i}.png" for i in range(11)]),
     "frames", np.concatenate([ONE_FRAME + i for i in range(11)], axis=2), 0),   # f10 after f9, not after f1
]


@pytest.mark.parametrize("make, name, expected, tolerance", [c[1:] for c in STILLS], ids=[c[0] for c in STILLS])
def test_still_images_one_frame_clips_and_frame_folders_are_read(tmp_path, make, name, expected, tolerance):
    (clip,) = data.load_inputs(make(tmp_path))
    assert clip.name == name and clip.shape == expected.shape and clip.video.dtype == np.uint8
    assert np.abs(clip.video.astype(int) - expected).max() <= tolerance


# --- decompression bombs are refused while reading ------------------------------------------------

def npy_header_only(path, shape):
    """A .npy file whose header claims `shape` uint8 but that holds no data: what a bomb claims."""
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return path


def npz_bomb(tmp):
    """8 GB of frames claimed by a few hundred bytes (the issue's 2000 x 2000 x 2048 zeros)."""
    inner = npy_header_only(tmp / "video.npy", (2000, 2000, 2048))
    import zipfile

    with zipfile.ZipFile(tmp / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(inner, "video.npy")
    return tmp / "bomb.npz"


def dicom_claiming(tmp, frames):
    """A real RLE DICOM (64 x 64, 10 frames) whose header claims `frames` frames."""
    import pydicom

    ds = pydicom.dcmread(pydicom_file("emri_small_RLE.dcm"))
    ds.NumberOfFrames = frames
    ds.save_as(tmp / "claims.dcm")
    return tmp / "claims.dcm"


BOMBS = [  # (id, make(tmp) -> path, environment, words of the message)
    ("npz_8_GB", npz_bomb, {}, "2000 x 2000 x 2048"),
    ("npy_8_GB", lambda t: npy_header_only(t / "bomb.npy", (2048, 2000, 2000)), {}, "more than the limit"),
    ("gzip_pickle", lambda t: aml(t, make_record(video=np.zeros((400, 500, 300), np.uint8),  # AML's protocol
                                                 label=DROP, frames=DROP, box=DROP), protocol=2),
     {"MVCORE_MAX_INPUT_GB": "0.005"}, "unpacks into more than 0.005 GB"),
    ("dicom_frames", lambda t: dicom_claiming(t, 10 ** 6), {}, "64 x 64 x 1000000"),
    ("mp4", lambda t: write_mp4(t / "long.mp4", make_video(t=40, h=32, w=48)),
     {"MVCORE_MAX_FRAME_PIXELS": "20000"}, "more than the limit of 20,000"),
    ("gif", lambda t: frames_gif(t / "long.gif", make_video(t=40)),
     {"MVCORE_MAX_FRAME_PIXELS": "5000"}, "x 40 ="),
    ("frame_folder", lambda t: frame_folder(t, [make_video(t=1)] * 30),
     {"MVCORE_MAX_FRAME_PIXELS": "5000"}, "more than the limit of 5,000"),
]


def frames_gif(path, video):
    import imageio.v3 as iio

    iio.imwrite(path, np.moveaxis(video, 2, 0), duration=50, loop=0)
    return path


@pytest.mark.parametrize("make, environment, words", [c[1:] for c in BOMBS], ids=[c[0] for c in BOMBS])
def test_a_file_claiming_more_than_the_limit_is_refused_before_it_is_unpacked(tmp_path, monkeypatch, make,
                                                                              environment, words):
    import tracemalloc

    path = make(tmp_path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            data.load_inputs(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith(str(path)) and words in str(caught.value), caught.value
    assert peak < 40e6, f"{peak / 1e6:.0f} MB taken before the refusal"


@pytest.mark.parametrize("value", ["lots", "0", "-1"])
def test_a_bad_limit_in_the_environment_is_named(monkeypatch, value):
    monkeypatch.setenv("MVCORE_MAX_INPUT_GB", value)
    with pytest.raises(InputError, match=f"MVCORE_MAX_INPUT_GB='{value}': expected a positive number"):
        data.input_limits()


def test_the_default_limits_take_a_large_expert_clip(tmp_path):
    limits = data.input_limits()
    limits.check_pixels((600, 800, 2000), "expert.pkl")   # 960 M values: a long expert clip
    limits.check_bytes(2_500_000_000, "train.pkl")          # a 2.5 GB unpacked expert pickle
