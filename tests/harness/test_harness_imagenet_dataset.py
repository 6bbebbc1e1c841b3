import numpy as np
import pytest
from PIL import Image

from mlperf_harness.models.resnet50.dataset import (MEANS, DatasetError, ImagenetDataset, parse_val_map,
                                              preprocess, read_labels)


def test_preprocess_uniform_image_subtracts_means():
    img = Image.new("RGB", (400, 300), (200, 100, 50))
    out = preprocess(img)
    assert out.shape == (3, 224, 224)
    assert out.dtype == np.float32
    expected = np.array([200, 100, 50], dtype=np.float32) - MEANS
    assert np.allclose(out, expected[:, None, None])


def test_preprocess_centre_crop_and_channel_order():
    # 512x256: the shorter side is already 256, so no resampling, only the
    # centre crop (left 144, top 16). R encodes x, G encodes y, B is 0.
    x = np.arange(512) // 2
    y = np.arange(256)
    pixels = np.zeros((256, 512, 3), dtype=np.uint8)
    pixels[:, :, 0] = x[None, :]
    pixels[:, :, 1] = y[:, None]
    out = preprocess(Image.fromarray(pixels, "RGB"))
    cols = np.arange(224)
    assert np.array_equal(out[0, 0], ((144 + cols) // 2).astype(np.float32) - MEANS[0])
    assert np.array_equal(out[1, :, 0], (16 + cols).astype(np.float32) - MEANS[1])
    assert np.array_equal(out[2], np.full((224, 224), -MEANS[2], dtype=np.float32))


@pytest.mark.parametrize("size,mode", [((500, 375), "RGB"), ((375, 500), "L"),
                                       ((120, 90), "RGB"), ((256, 256), "RGBA")])
def test_preprocess_any_size_and_mode(size, mode, tmp_path):
    path = tmp_path / "img.png"
    Image.new(mode, size).save(path)
    out = preprocess(path)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    assert out.flags["C_CONTIGUOUS"]


def _write_map(tmp_path, text):
    path = tmp_path / "val_map.txt"
    path.write_text(text)
    return path


def test_parse_val_map_ok(tmp_path):
    path = _write_map(tmp_path, "a.JPEG 3\nsub/b c.JPEG 999\n\n")
    assert parse_val_map(path) == [("a.JPEG", 3), ("sub/b c.JPEG", 999)]


@pytest.mark.parametrize("text,needle", [
    ("a.JPEG 1\nbroken\n", "val_map.txt:2: expected"),
    ("a.JPEG one\n", "val_map.txt:1: label 'one'"),
    ("a.JPEG 1000\n", "val_map.txt:1: label 1000 outside"),
    ("a.JPEG 1\n\nb.JPEG 2\n", "val_map.txt:2: expected"),
    ("../a.JPEG 1\n", "val_map.txt:1: path"),
    ("", "no samples"),
])
def test_parse_val_map_errors_name_file_and_line(tmp_path, text, needle):
    path = _write_map(tmp_path, text)
    with pytest.raises(DatasetError) as err:
        parse_val_map(path)
    assert needle in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_missing_val_map_and_images(tmp_path):
    with pytest.raises(DatasetError, match="val_map.txt: not found"):
        ImagenetDataset.open(tmp_path)
    _write_map(tmp_path, "a.JPEG 1\nb.JPEG 2\n")
    Image.new("RGB", (300, 300)).save(tmp_path / "a.JPEG")
    with pytest.raises(DatasetError, match="1 image.*missing.*b.JPEG"):
        ImagenetDataset.open(tmp_path)
    ds = ImagenetDataset.open(tmp_path, count=1)
    assert len(ds) == 1 and ds.labels == [1]
    assert ds.load(0).shape == (3, 224, 224)
    with pytest.raises(DatasetError, match="--count 3 exceeds the 2 samples"):
        read_labels(tmp_path, 3)


def test_preprocess_applies_exif_orientation(tmp_path):
    # Stored landscape (left half white), tagged "rotate 90 CW to display" (6):
    # displayed portrait, so the top half is white after preprocessing.
    pixels = np.zeros((300, 400, 3), dtype=np.uint8)
    pixels[:, :200] = 255
    img = Image.fromarray(pixels, "RGB")
    exif = img.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    img.save(path, quality=95, exif=exif)
    out = preprocess(path) + MEANS[:, None, None]
    assert out[:, :100].mean() > 200 and out[:, 124:].mean() < 50
