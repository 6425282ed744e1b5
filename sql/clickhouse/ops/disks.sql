-- Space on the server's disks: used and total bytes over every disk.
SELECT toUInt64(sum(total_space - free_space)) AS used_bytes,
       toUInt64(sum(total_space)) AS total_bytes
FROM system.disks;
