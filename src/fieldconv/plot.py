"""Pictures of receptive fields (needs matplotlib: ``pip install fieldconv[plot]``).

matplotlib is imported only when a picture is drawn, never by ``import fieldconv``.
"""

from __future__ import annotations

import numpy as np

from . import _params, _receptive_field_args

_EXTRA_HINT = "pip install fieldconv[plot]"
_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        import matplotlib.patches
    except ImportError:
        raise ImportError(
            f"fieldconv.plot_receptive_field needs matplotlib, an optional extra: {_EXTRA_HINT}"
        ) from None
    return matplotlib


def _as_network(layers):
    from .layers import Sequential, _check_layer

    if isinstance(layers, (list, tuple)):
        return Sequential(*layers)
    _check_layer(layers, "layers")
    return layers


def _first_in_channels(network) -> int:
    """Channels the network expects: the first layer that states it (Conv2d.in_channels), else 1."""
    from .layers import Sequential

    if isinstance(network, Sequential):
        for layer in network:
            channels = _first_in_channels(layer)
            if channels:
                return channels
        return 0
    return int(getattr(network, "in_channels", 0) or 0)


def _image_array(image) -> np.ndarray:
    try:
        array = np.asarray(image)
    except (ValueError, TypeError):
        raise TypeError(f"image must be a 2-d (H, W) or (H, W, 3|4) array, got {type(image).__name__}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"image must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        if array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError(f"image must not be empty, got shape {array.shape}")
        return array
    raise ValueError(f"image must be (H, W) grey or (H, W, 3|4) colour, got shape {array.shape}")


def plot_receptive_field(image, layers, outputs=None, ax=None, *, input_shape=None, show_centres=True):
    """Draws, over image, the input region each chosen output pixel sees and the field centres.

    image: (H, W) or (H, W, 3|4) array, shown with pixel centres at integer coordinates (the
    receptive-field convention). layers: a layer, a Sequential or a list/tuple of layers.
    outputs: list of output (i, j) indices (default: the first and the middle output); each must
    lie inside the output grid the image gives, else ValueError naming the valid range.
    ax: a matplotlib Axes (default: a new figure). input_shape: (C, H, W) the network sees, when
    its channel count cannot be read from its first layer. show_centres: mark the centre of every
    output's field (the grid of field centres). Returns ax.
    """
    _matplotlib()
    from matplotlib.patches import Rectangle

    from ._receptive_field import receptive_field

    picture = _image_array(image)
    network = _as_network(layers)
    field = receptive_field(network)
    height, width = picture.shape[:2]
    if input_shape is None:
        input_shape = (_first_in_channels(network) or 1, height, width)
    else:
        input_shape = _params.shape_tuple(input_shape)
        if tuple(input_shape[-2:]) != (height, width):
            raise ValueError(f"input_shape {input_shape} does not match the image's (H, W) = {(height, width)}")
    out_h, out_w = (int(v) for v in network.output_shape(input_shape)[-2:])

    if outputs is None:
        outputs = [(0, 0), (out_h // 2, out_w // 2)]
    if isinstance(outputs, tuple) and len(outputs) == 2 and all(isinstance(v, (int, np.integer)) for v in outputs):
        outputs = [outputs]
    chosen = []
    for position, pair in enumerate(outputs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"outputs[{position}] must be an (i, j) pair of output indices, got {pair!r}")
        chosen.append(
            (
                _receptive_field_args.output_index(pair[0], f"outputs[{position}][0] (i)", out_h),
                _receptive_field_args.output_index(pair[1], f"outputs[{position}][1] (j)", out_w),
            )
        )

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 5))
    grey = picture.ndim == 2
    ax.imshow(picture, cmap="gray" if grey else None, interpolation="nearest")

    low_y, low_x, high_y, high_x = -0.5, -0.5, height - 0.5, width - 0.5
    if show_centres:
        rows = field.start[0] + field.jump[0] * np.arange(out_h)
        cols = field.start[1] + field.jump[1] * np.arange(out_w)
        grid_y, grid_x = np.meshgrid(rows, cols, indexing="ij")
        ax.plot(grid_x.ravel(), grid_y.ravel(), ".", color="#ffe119", markersize=3, label="field centres")
    for number, (i, j) in enumerate(chosen):
        (y0, y1), (x0, x1) = field.input_region(i, j)
        colour = _COLOURS[number % len(_COLOURS)]
        ax.add_patch(
            Rectangle(
                (x0 - 0.5, y0 - 0.5),
                x1 - x0,
                y1 - y0,
                fill=False,
                edgecolor=colour,
                linewidth=2,
                label=f"output ({i}, {j}): rows {y0}..{y1 - 1}, cols {x0}..{x1 - 1}",
            )
        )
        centre_y, centre_x = field.center(i, j)
        ax.plot([centre_x], [centre_y], "x", color=colour, markersize=8)
        low_y, low_x = min(low_y, y0 - 0.5), min(low_x, x0 - 0.5)
        high_y, high_x = max(high_y, y1 - 0.5), max(high_x, x1 - 0.5)
    margin = 0.5
    ax.set_xlim(low_x - margin, high_x + margin)
    ax.set_ylim(high_y + margin, low_y - margin)  # rows grow downwards, as in the image
    ax.set_title(
        f"receptive field {field.size[0]}x{field.size[1]}, jump {field.jump[0]}x{field.jump[1]}, "
        f"start ({field.start[0]:g}, {field.start[1]:g})",
        fontsize=9,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=7, frameon=False)
    return ax
