// An eval run's results as the page's own table and charts (from GET /v1/runs/{id}/eval): success
// per task x prompt type with the episode counts, the totals per row and column, and bars per
// prompt type split by scene (ambiguous or not) — the table the log only had as markdown.
import type { EvalResult } from '../api/runs';
import { pct } from './format';

type Rate = EvalResult['summary']['overall'];

/** A cell's background: red (0%) through amber to green (100%), dim enough for white text. */
function heat(success: number): string {
  const hue = Math.round(success * 120);
  return `hsl(${hue} 55% 28%)`;
}

function Cell({ rate, testid }: { rate: Rate | undefined; testid?: string }) {
  if (!rate) return <td className="muted">—</td>;
  return (
    <td
      className="num eval-cell"
      style={{ background: heat(rate.success) }}
      title={`${Math.round(rate.success * rate.n)} of ${rate.n} episodes succeeded`}
      data-testid={testid}
    >
      {pct(rate.success)} <span className="muted">({rate.n})</span>
    </td>
  );
}

export function EvalView({ result }: { result: EvalResult }) {
  const { overall } = result.summary;
  const s = {
    overall,
    task: result.summary.task ?? {},
    prompt_type: result.summary.prompt_type ?? {},
    scene: result.summary.scene ?? {},
    scene_prompt: result.summary.scene_prompt ?? {},
    cell: result.summary.cell ?? {},
  };
  const types = result.prompt_types;
  const scenes = Object.keys(s.scene);
  return (
    <div data-testid="eval-result">
      <h3>
        Evaluation · {pct(s.overall.success)} of {s.overall.n} episodes succeeded
      </h3>
      <table className="actions eval-table" data-testid="eval-table">
        <thead>
          <tr>
            <th style={{ textAlign: 'left' }}>task \ prompt</th>
            {types.map((t) => (
              <th key={t}>{t}</th>
            ))}
            <th>all</th>
          </tr>
        </thead>
        <tbody>
          {result.tasks.map((task) => (
            <tr key={task} data-task={task}>
              <th style={{ textAlign: 'left' }}>{task}</th>
              {types.map((t) => (
                <Cell key={t} rate={s.cell[`${task}/${t}`]} testid={`eval-cell-${task}-${t}`} />
              ))}
              <Cell rate={s.task[task]} />
            </tr>
          ))}
          <tr>
            <th style={{ textAlign: 'left' }}>all</th>
            {types.map((t) => (
              <Cell key={t} rate={s.prompt_type[t]} />
            ))}
            <Cell rate={s.overall} />
          </tr>
        </tbody>
      </table>
      <SuccessBars
        groups={types.map((t) => ({
          label: t,
          bars: scenes.map((sc) => ({ label: sc, rate: s.scene_prompt[`${sc}/${t}`] })),
        }))}
        legend={scenes}
      />
    </div>
  );
}

const SCENE_COLORS = ['#5aa9ff', '#ff9f1a', '#3ecf8e', '#ff4fa3'];

/** Grouped horizontal bars (one group per prompt type, one bar per scene), 0..100%. */
function SuccessBars({
  groups,
  legend,
}: {
  groups: { label: string; bars: { label: string; rate: Rate | undefined }[] }[];
  legend: string[];
}) {
  const barH = 12;
  const gap = 8;
  const left = 70;
  const width = 420;
  const groupH = legend.length * barH + gap;
  const height = groups.length * groupH + 24;
  return (
    <figure className="eval-chart" data-testid="eval-chart">
      <svg
        width="100%"
        viewBox={`0 0 ${left + width + 50} ${height}`}
        role="img"
        aria-label="success by prompt type and scene"
      >
        {[0, 0.5, 1].map((x) => (
          <g key={x}>
            <line x1={left + x * width} x2={left + x * width} y1={0} y2={height - 18} stroke="#2e323b" />
            <text x={left + x * width} y={height - 4} fill="#9aa1ad" fontSize={10} textAnchor="middle">
              {pct(x)}
            </text>
          </g>
        ))}
        {groups.map((g, gi) => (
          <g key={g.label} transform={`translate(0, ${gi * groupH})`}>
            <text
              x={left - 6}
              y={(legend.length * barH) / 2 + 4}
              fill="#d7dbe2"
              fontSize={11}
              textAnchor="end"
            >
              {g.label}
            </text>
            {g.bars.map((b, bi) =>
              b.rate ? (
                <g key={b.label}>
                  <rect
                    x={left}
                    y={bi * barH}
                    width={Math.max(1, b.rate.success * width)}
                    height={barH - 2}
                    fill={SCENE_COLORS[bi % SCENE_COLORS.length]}
                  >
                    <title>{`${g.label}, ${b.label}: ${pct(b.rate.success)} of ${b.rate.n}`}</title>
                  </rect>
                  <text
                    x={left + b.rate.success * width + 4}
                    y={bi * barH + barH - 3}
                    fill="#9aa1ad"
                    fontSize={9}
                  >
                    {pct(b.rate.success)}
                  </text>
                </g>
              ) : null,
            )}
          </g>
        ))}
      </svg>
      <figcaption className="muted">
        Success by prompt type:{' '}
        {legend.map((l, i) => (
          <span key={l} style={{ marginRight: 10 }}>
            <span className="swatch" style={{ background: SCENE_COLORS[i % SCENE_COLORS.length] }} /> {l}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
