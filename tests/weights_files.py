"""Reading `.weights.h5` files in tests (imported as `from weights_files import h5_arrays`)."""

import h5py


def h5_arrays(path):
    """Every dataset of an `.h5` file, by its path inside the file."""
    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return arrays
