"""Models registry (no Qt): specs, hash-checked safetensors weights, cached loading."""
from .registry import (LoadedModel, cache_dir, clear_cache, find_model, get_model, list_models,
                       register_model, resolve_device, training_state, user_models_dir)
from .spec import ModelSpec
from .weights_io import ModelHashError, save_model, sha256_file

__all__ = ["LoadedModel", "ModelHashError", "ModelSpec", "cache_dir", "clear_cache", "find_model",
           "get_model", "list_models", "register_model", "resolve_device", "save_model",
           "sha256_file", "training_state", "user_models_dir"]
