"""Datasets: the :class:`Dataset` value object, named datasets and their downloads, file
readers, uploads, and pixel statistics (:mod:`mnist_core.data.stats`, imported on its own
because it needs pandas).

Modules, one idea each:

- ``dataset``: the :class:`Dataset` value object;
- ``arrays``: arrays checked and converted into a Dataset, the stratified test split;
- ``named``: the registry of named datasets, their cache paths, recognising their images;
- ``download``: fetching a named dataset into the cache;
- ``files``, ``npz``, ``idx``, ``kaggle_csv``: file readers and the memory they may take;
- ``uploads``: files users upload, and what they are called;
- ``loading``: :func:`load_dataset`, from a name or a path to a Dataset;
- ``stats``: class balance and pixel-wise statistics.
"""

from mnist_core.data.arrays import stratified_split
from mnist_core.data.dataset import Dataset, Split
from mnist_core.data.download import fetch
from mnist_core.data.errors import DatasetError
from mnist_core.data.files import max_dataset_bytes
from mnist_core.data.loading import load_dataset
from mnist_core.data.named import NAMED_DATASETS, NamedDataset, RemoteFile, is_cached, recognise
from mnist_core.data.uploads import (
    UploadInfo,
    list_uploads,
    name_upload,
    save_upload,
    upload_info,
)

__all__ = [
    "NAMED_DATASETS",
    "Dataset",
    "DatasetError",
    "NamedDataset",
    "RemoteFile",
    "Split",
    "UploadInfo",
    "fetch",
    "is_cached",
    "list_uploads",
    "load_dataset",
    "max_dataset_bytes",
    "name_upload",
    "recognise",
    "save_upload",
    "stratified_split",
    "upload_info",
]
