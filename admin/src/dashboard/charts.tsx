import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

import { colourOf, type Series } from "./series.ts";
import { bucketLabel } from "./timeRange.ts";

const numberFormat = new Intl.NumberFormat();

interface TimeChartProps {
  series: Series;
  bucketMinutes: number;
  /** What the chart shows, for screen readers. */
  label: string;
}

/** Stacked evaluations per bucket, one area per series. */
export function EvaluationsChart({ series, bucketMinutes, label }: TimeChartProps) {
  return (
    <div role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height={280}>
        <AreaChart data={series.rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis
            dataKey="bucket"
            type="number"
            scale="time"
            domain={["dataMin", "dataMax"]}
            tickFormatter={(at: number) => bucketLabel(at, bucketMinutes)}
          />
          <YAxis allowDecimals={false} tickFormatter={(n: number) => numberFormat.format(n)} />
          <Tooltip
            labelFormatter={(at) => new Date(Number(at)).toLocaleString()}
            formatter={(value) => numberFormat.format(Number(value))}
          />
          <Legend />
          {series.keys.map((key, index) => (
            <Area
              key={key}
              type="monotone"
              dataKey={key}
              stackId="evaluations"
              stroke={colourOf(index)}
              fill={colourOf(index)}
              fillOpacity={0.35}
              isAnimationActive={false}
            />
          ))}
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}

/** Unique users per bucket. */
export function UsersChart({ series, bucketMinutes, label }: TimeChartProps) {
  return (
    <div role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={series.rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis
            dataKey="bucket"
            type="number"
            scale="time"
            domain={["dataMin", "dataMax"]}
            tickFormatter={(at: number) => bucketLabel(at, bucketMinutes)}
          />
          <YAxis allowDecimals={false} />
          <Tooltip
            labelFormatter={(at) => new Date(Number(at)).toLocaleString()}
            formatter={(value) => [numberFormat.format(Number(value)), "unique users"]}
          />
          <Line
            type="monotone"
            dataKey="users"
            stroke={colourOf(2)}
            dot={false}
            isAnimationActive={false}
          />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

export interface TopFlagBar {
  featureKey: string;
  evaluations: number;
}

/** The most evaluated flags, most first. */
export function TopFlagsChart({ flags, label }: { flags: readonly TopFlagBar[]; label: string }) {
  return (
    <div role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height={Math.max(120, flags.length * 32 + 40)}>
        <BarChart
          data={[...flags]}
          layout="vertical"
          margin={{ top: 8, right: 16, bottom: 0, left: 16 }}
        >
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis type="number" allowDecimals={false} />
          <YAxis type="category" dataKey="featureKey" width={140} />
          <Tooltip formatter={(value) => [numberFormat.format(Number(value)), "evaluations"]} />
          <Bar dataKey="evaluations" fill={colourOf(0)} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
