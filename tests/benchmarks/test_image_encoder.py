"""image_encoder: its windows are real maze views, which repeat, so the distinct-image path is what it times."""

import torch

from ad_agent.model import encoders
from benchmarks import image_encoder


def test_random_walk_views_are_maze_images_that_repeat() -> None:
    data = image_encoder.random_walk_histories(0, n_streams=2, n_steps=60)
    images = torch.as_tensor(data.observations)
    assert images.dtype == torch.uint8 and images.ndim == 4 and len(images) == 120
    rows = images.reshape(len(images), -1)
    found = encoders.distinct_rows(rows)
    assert found is not None  # repeats: the encoder encodes fewer images than the batch holds
    first, inverse = found
    assert len(first) < len(rows) and torch.equal(rows[first][inverse], rows)
    assert image_encoder._every_image(rows) is None  # the variant that encodes every image
