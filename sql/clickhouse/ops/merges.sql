-- Merges running now on pulse's tables.
SELECT toUInt64(count()) AS merges
FROM system.merges
WHERE database = {database:String};
