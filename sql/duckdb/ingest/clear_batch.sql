DELETE FROM batch_keys;
