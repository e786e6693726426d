"""LLaVA-format data: records, encoding and collation (generative), and the class-prompt path (CLIP)."""
from .batching import EncodedDataset, Encoder, collate_generate, collate_train, to_device
from .classify import ClassEncoder, ClassSet, read_class_set
from .records import DataError, Sample, read_test_file, read_train_file

__all__ = ["Sample", "DataError", "read_train_file", "read_test_file", "Encoder", "EncodedDataset",
           "collate_train", "collate_generate", "to_device", "ClassEncoder", "ClassSet", "read_class_set"]
