"""Images and videos through the same path as the 7B models: PIL preprocessing, decord/PyAV decoding."""
import numpy as np
import pytest
from PIL import Image

from data_prep.tiny_synth import write_clip
from keeplora.data.media import MediaError, MediaProcessor, read_video_frames, sample_indices


def test_uniform_indices():
    assert sample_indices(132, 8) == [0, 19, 37, 56, 75, 94, 112, 131]       # Big Buck Bunny, 8 frames
    assert sample_indices(3, 5) == [0, 0, 1, 2, 2]


def test_mp4_written_by_pyav_decodes_to_the_expected_frames(tmp_path):
    frames = [np.full((32, 32, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    write_clip(tmp_path / "c.mp4", frames)
    out = read_video_frames(tmp_path / "c.mp4", 3)                          # indices 0, 2(.5→2), 5
    assert out.shape == (3, 32, 32, 3)
    assert [int(round(f.mean() / 40)) for f in out] == [0, 2, 5]
    video = MediaProcessor(image_size=16, num_frames=4).video(tmp_path / "c.mp4")
    assert tuple(video.shape) == (4, 3, 16, 16)


def test_pad_mode_keeps_the_aspect_ratio(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.save(tmp_path / "wide.png")
    padded = MediaProcessor(image_size=20, aspect="pad").image(tmp_path / "wide.png")
    resized = MediaProcessor(image_size=20, aspect="resize").image(tmp_path / "wide.png")
    assert padded.shape == resized.shape == (3, 20, 20)
    assert not np.allclose(padded[:, 0].numpy(), padded[:, 10].numpy())    # top rows are padding
    assert np.allclose(resized[:, 0].numpy(), resized[:, 10].numpy())


def test_missing_and_corrupt_files_are_named(tmp_path):
    proc = MediaProcessor(image_size=16)
    with pytest.raises(MediaError, match="image .*nope.png not found"):
        proc.image(tmp_path / "nope.png")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(MediaError, match="bad.mp4 cannot be decoded"):
        proc.video(tmp_path / "bad.mp4")
