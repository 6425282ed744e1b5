UPDATE rollup_watermark SET refreshed_through = $1;
