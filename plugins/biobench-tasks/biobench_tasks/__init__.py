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
    yield TaskSpec(
        id="tasks/newt",
        factory="biobench_tasks.newt:NeWT",
        description="NeWT 2021: 164 binary natural-world tasks (~36k iNaturalist photos), a linear SVM per task; "
                    "pooled accuracy",
        license="per-image CC licences (iNaturalist)",
        protocol="svm",
        metric="accuracy",
        needs_data=True,
        data_source="https://github.com/visipedia/newt",
        prior_work=True,
        data_size="4.1 GB",
        data_recipe="biobench_tasks.newt:DATA",
    )
    yield TaskSpec(
        id="tasks/iwildcam",
        factory="biobench_tasks.iwildcam:IWildCam",
        description="iWildCam2020-WILDS v2.0: camera-trap species (182 classes), train on train, test on unseen "
                    "locations; macro-F1 over test classes",
        license="CDLA-Permissive-1.0",
        protocol="logreg",
        metric="biobench_tasks.iwildcam:macro_f1_present",
        needs_data=True,
        data_source="https://wilds.stanford.edu (iWildCam v2.0)",
        data_size="12 GB",
        data_recipe="biobench_tasks.iwildcam:DATA",
    )
    yield TaskSpec(
        id="tasks/fishnet",
        factory="biobench_tasks.fishnet:FishNet",
        description="FishNet: 9 binary functional traits of fish (feeding path, climate, waters) from ~94k images; "
                    "mean per-trait macro-F1",
        license=None,
        protocol="logreg",
        metric="biobench_tasks.fishnet:mean_trait_macro_f1",
        needs_data=True,
        data_source="https://github.com/faixan-khan/FishNet (images: Google Drive)",
        data_size="5.4 GB",
        data_recipe="biobench_tasks.fishnet:DATA",
    )
