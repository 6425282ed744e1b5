-- Active data parts of pulse's database: how many, their bytes on disk,
-- and the most in any one partition of a table (inserts slow down, then
-- fail with TOO_MANY_PARTS, when that passes the table's
-- parts_to_delay_insert / parts_to_throw_insert).
SELECT toUInt64(count()) AS partitions_with_parts,
       toUInt64(sum(parts)) AS active_parts,
       toUInt64(sum(bytes)) AS bytes_on_disk,
       toUInt64(max(parts)) AS max_parts_in_partition
FROM (
    SELECT table, partition_id, count() AS parts, sum(bytes_on_disk) AS bytes
    FROM system.parts
    WHERE database = {database:String} AND active
    GROUP BY table, partition_id
);
