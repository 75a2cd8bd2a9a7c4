"""The worker: SQS batches in, one registered handler run per event, exactly once."""
