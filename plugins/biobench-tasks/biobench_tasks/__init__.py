"""First-party biobench tasks, the metrics of the tasks that score by their own rule, and upstream BioBench's
published results as a reference (``biobench report --published``).

Listing is torch-free and PIL-free: this module only yields specs; each task's code is imported when used. Every
task that reads a data folder names a generator of a tiny dataset of it (``sample_data``, in ``samples``), on which
``biobench plugins validate biobench-tasks`` runs it end to end.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import MetricSpec, ReferenceSpec, TaskSpec, hookimpl
from biobench_tasks._paper import with_profiles

__all__ = ["BIOBENCH_CONTRACT", "biobench_tasks", "biobench_metrics", "biobench_references"]

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_tasks() -> Iterator[TaskSpec]:
    for spec in _task_specs():
        yield with_profiles(spec)


def _task_specs() -> Iterator[TaskSpec]:
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
        sample_data="biobench_tasks.samples.image_folder:folder_dataset",
        description="Your own images: DIR/{train,test}/<class>/* or DIR/labels.csv (path,label,split[,group])",
        protocol="logreg",
        metric="accuracy",
        needs_data=True,
        data_source="your folder (--data image-folder=DIR)",
    )
    yield TaskSpec(
        id="tasks/newt",
        factory="biobench_tasks.newt:NeWT",
        sample_data="biobench_tasks.samples.newt:make_newt",
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
        sample_data="biobench_tasks.samples.iwildcam:make_iwildcam",
        description="iWildCam2020-WILDS v2.0: camera-trap species (182 classes), train on train, test on unseen "
                    "locations; macro-F1 over test classes",
        license="CDLA-Permissive-1.0",
        protocol="logreg",
        metric="macro-f1-present",
        needs_data=True,
        data_source="https://wilds.stanford.edu (iWildCam v2.0)",
        data_size="12 GB",
        data_recipe="biobench_tasks.iwildcam:DATA",
    )
    yield TaskSpec(
        id="tasks/fishnet",
        factory="biobench_tasks.fishnet:FishNet",
        sample_data="biobench_tasks.samples.fishnet:make_fishnet",
        description="FishNet: 9 binary functional traits of fish (feeding path, climate, waters) from ~94k images; "
                    "mean per-trait macro-F1",
        license=None,
        protocol="logreg",
        metric="mean-trait-macro-f1",
        needs_data=True,
        data_source="https://github.com/faixan-khan/FishNet (images: Google Drive)",
        data_size="5.4 GB",
        data_recipe="biobench_tasks.fishnet:DATA",
    )
    yield TaskSpec(
        id="tasks/herbarium19",
        factory="biobench_tasks.herbarium19:Herbarium19",
        sample_data="biobench_tasks.samples.herbarium19:make_herbarium",
        description="Herbarium Challenge 2019: 683 Melastomataceae species from herbarium sheets; train on train, "
                    "test on validation; macro-F1",
        license=None,
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://storage.googleapis.com/nybg/herbarium-2019-fgvc6 (FGVC6, arXiv:1906.05372)",
        data_size="41 GB",
        data_recipe="biobench_tasks.herbarium19:DATA",
    )
    yield TaskSpec(
        id="tasks/plantnet",
        factory="biobench_tasks.plantnet:PlantNet",
        sample_data="biobench_tasks.samples.plantnet:make_plantnet",
        description="Pl@ntNet-300K: 1,081 long-tailed plant species; train on train, test on val; macro-F1",
        license="CC-BY-4.0",
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://zenodo.org/records/5645731",
        data_size="30 GB",
        data_recipe="biobench_tasks.plantnet:DATA",
    )
    yield TaskSpec(
        id="tasks/plankton",
        factory="biobench_tasks.plankton:Plankton",
        sample_data="biobench_tasks.samples.plankton:make_plankton",
        description="Phytoplankton (IFCB) taxa: train on SYKE 2022, test on Utö 2021; macro-F1",
        license=None,
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://b2share.eudat.eu (SYKE-plankton_IFCB_2022 and SYKE-plankton_IFCB_Utö_2021)",
        data_size=None,
        data_recipe="biobench_tasks.plankton:DATA",
    )
    yield TaskSpec(
        id="tasks/inat21",
        factory="biobench_tasks.inat21:INat21",
        sample_data="biobench_tasks.samples.inat21:make_inat21",
        description="iNat2021: 10,000 species, train on train_mini (50 per species), test on val; accuracy "
                    "(prior work: kept out of the benchmark mean)",
        license="per-image CC licences (iNaturalist)",
        protocol="logreg",
        metric="accuracy",
        needs_data=True,
        data_source="https://github.com/visipedia/inat_comp/tree/master/2021",
        prior_work=True,
        data_size="50 GB",
        data_recipe="biobench_tasks.inat21:DATA",
    )
    yield TaskSpec(
        id="tasks/imagenet-1k",
        factory="biobench_tasks.imagenet1k:ImageNet1K",
        sample_data="biobench_tasks.samples.imagenet1k:make_imagenet",
        description="ImageNet-1K (ILSVRC2012): 1,000 object classes, train on train, test on the 50,000 validation "
                    "images; accuracy (prior work: kept out of the benchmark mean)",
        license="ImageNet terms of access (non-commercial research and education; an account is needed)",
        protocol="logreg",
        metric="accuracy",
        needs_data=True,
        data_source="https://image-net.org (ILSVRC2012) or https://huggingface.co/datasets/ILSVRC/imagenet-1k "
                    "(parquet)",
        prior_work=True,
        data_size="147 GB",
        data_recipe="biobench_tasks.imagenet1k:DATA",
    )
    yield TaskSpec(
        id="tasks/ecdysis",
        factory="biobench_tasks.ecdysis:Ecdysis",
        sample_data="biobench_tasks.samples.ecdysis:make_ecdysis",
        description="Ecdysis Foundation insect specimens: taxa, earliest 80% per taxon train, latest 20% test; "
                    "macro-F1 (splits per order)",
        license=None,
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://bugbox.ecdysis.bio/samples/collection-download/1",
        data_size=None,
        data_recipe="biobench_tasks.ecdysis:DATA",
    )
    yield TaskSpec(
        id="tasks/beluga",
        factory="biobench_tasks.beluga:Beluga",
        sample_data="biobench_tasks.samples.beluga:make_beluga",
        description="Beluga ID 2022: re-identify 788 individual beluga whales in 5,902 images; leave-one-out 5-NN, "
                    "macro-F1 over individuals (top-1 accuracy and viewpoints as splits)",
        license="CDLA-Permissive-1.0",
        protocol="knn",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://lila.science/datasets/beluga-id-2022/",
        data_size="590 MB",
        data_recipe="biobench_tasks.beluga:DATA",
    )
    yield TaskSpec(
        id="tasks/fungiclef",
        factory="biobench_tasks.fungiclef:FungiCLEF",
        sample_data="biobench_tasks.samples.fungiclef:make_fungiclef",
        description="FungiCLEF 2023: fungus species of DF21 observations (images mean-pooled) from DF20 photos, "
                    "SimpleShot + Mahalanobis open-set rule; 1 - normalised poison-aware cost (macro-F1 as a split)",
        license=None,
        protocol="simpleshot",
        metric="fungiclef-cost-score",
        needs_data=True,
        data_source="https://www.imageclef.org/FungiCLEF2023 (files: http://ptak.felk.cvut.cz/plants/DanishFungiDataset/)",
        data_size="9 GB",
        data_recipe="biobench_tasks.fungiclef:DATA",
    )
    yield TaskSpec(
        id="tasks/kabr",
        factory="biobench_tasks.kabr:Kabr",
        sample_data="biobench_tasks.samples.kabr:make_kabr",
        description="KABR: behaviour (8 classes) of giraffes and zebras in drone video clips; 16 frames per clip "
                    "(stride 5, seeded start), max-pooled; macro-F1 (species as splits)",
        license="CC0-1.0",
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://huggingface.co/datasets/imageomics/KABR",
        data_size="10+ h of video, ~1.1M frames",
        data_recipe="biobench_tasks.kabr:DATA",
    )
    yield TaskSpec(
        id="tasks/mammalnet",
        factory="biobench_tasks.mammalnet:MammalNet",
        sample_data="biobench_tasks.samples.mammalnet:make_mammalnet",
        description="MammalNet (compositional split): 12 behaviours of 173 mammal categories in video clips; "
                    "32 frames max-pooled; macro-F1 (species as splits)",
        license=None,
        protocol="logreg",
        metric="macro-f1-all",
        needs_data=True,
        data_source="https://mammal-net.github.io (files: https://mammalnet.s3.amazonaws.com)",
        data_size="18k videos, 539 h",
        data_recipe="biobench_tasks.mammalnet:DATA",
    )


@hookimpl
def biobench_metrics() -> Iterator[MetricSpec]:
    """The metrics of iWildCam, FishNet and FungiCLEF (before these specs, ``"module:function"`` names, which
    still resolve to the same functions)."""
    yield MetricSpec(
        name="macro-f1-present",
        factory="biobench_tasks.iwildcam:macro_f1_present",
        replicates="biobench_tasks.iwildcam:macro_f1_present_replicates",
        description="macro-F1 over the classes present in the truth (WILDS's)",
    )
    yield MetricSpec(
        name="mean-trait-macro-f1",
        factory="biobench_tasks.fishnet:mean_trait_macro_f1",
        replicates="biobench_tasks.fishnet:mean_trait_macro_f1_replicates",
        description="FishNet: the mean over its nine binary traits of each trait's macro-F1 over both classes, "
                    "an absent one scoring 0 (BioBench's)",
        # 2: a -1 prediction is a miss for each trait, no longer a third class (issue 18); 3: each trait averages
        # over both of its classes, one absent from the truth and the predictions scoring 0 (issue 19)
        version="3",
    )
    yield MetricSpec(
        name="fungiclef-cost-score",
        factory="biobench_tasks.fungiclef:cost_score",
        replicates="biobench_tasks.fungiclef:cost_score_replicates",
        higher_is_better=True,  # 1 - the normalised cost: 1 when every example is right
        description="FungiCLEF 2023: 1 - the poison-aware cost / the worst-case cost",
    )


@hookimpl
def biobench_references() -> Iterator[ReferenceSpec]:
    yield ReferenceSpec(
        name="biobench-6376d97",
        factory="biobench_tasks.published:biobench_6376d97",
        description="BioBench's published per-task results (samuelstevens/biobench at 6376d97, MIT licence), shown "
                    "beside biobench-paper columns",
    )
