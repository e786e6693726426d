"""LLaVA-format data: records, chat templating, media decoding, datasets and collation, and the class
prompts of the CLIP path. Nothing here knows a model family: ``keeplora.models`` builds on this package."""
from .batching import EncodedDataset, SampleEncoder, collate_generate, collate_train, to_device
from .classify import ClassEncoder, ClassSet, read_class_set
from .records import DataError, Sample, read_test_file, read_train_file

__all__ = ["Sample", "DataError", "read_train_file", "read_test_file", "SampleEncoder", "EncodedDataset",
           "collate_train", "collate_generate", "to_device", "ClassEncoder", "ClassSet", "read_class_set"]
