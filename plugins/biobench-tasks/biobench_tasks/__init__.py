"""First-party biobench tasks.

Listing is torch-free and PIL-free: this module only yields specs; each task's code is imported when used.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import TaskSpec, hookimpl

__all__ = ["BIOBENCH_CONTRACT", "biobench_tasks"]

BIOBENCH_CONTRACT = 1


@hookimpl
def biobench_tasks() -> Iterator[TaskSpec]:
    yield TaskSpec(
        id="tasks/animal-silhouettes",
        factory="biobench_tasks.silhouettes:AnimalSilhouettes",
        description="10,000 28x28 animal silhouettes (Animal-MNIST v3), 10 classes, fixed 80/20 stratified split",
        license="MIT",
        protocol="logreg",
        metric="accuracy",
        needs_data=False,
        data_source="PyPI animal-mnist==0.4",
    )
    yield TaskSpec(
        id="tasks/image-folder",
        factory="biobench_tasks.image_folder:ImageFolderTask",
        description="Your own images: DIR/{train,test}/<class>/* or DIR/labels.csv (path,label,split[,group])",
        protocol="logreg",
        metric="accuracy",
        needs_data=True,
        data_source="your folder (--data image-folder=DIR)",
    )
