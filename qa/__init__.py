"""qa: grounded, cited question answering over news articles."""

from qa.config import Config, load_config
from qa.errors import QAError
from qa.types import Answer, Article, Chunk, Citation, FileOutcome, Filters, Hit, StreamEvent

__all__ = ["Answer", "Article", "Chunk", "Citation", "Config", "FileOutcome", "Filters", "Hit", "QAError", "StreamEvent", "load_config"]
