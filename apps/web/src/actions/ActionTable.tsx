import { Fragment } from 'react';

// The action chunk as numbers, predicted beside recorded (when the frame comes from an episode).
// Gripper: ● close, ○ open (binarised).
const COLS = ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'grip'];

export function ActionTable({
  predicted,
  recorded,
}: {
  predicted: readonly (readonly number[])[];
  recorded?: readonly (readonly number[])[];
}) {
  return (
    <table className="actions" data-testid="action-table">
      <thead>
        <tr>
          <th>t</th>
          {COLS.map((c) => (
            <th key={c}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {predicted.map((row, i) => (
          <Fragment key={i}>
            <tr>
              <td>{i}</td>
              {row.map((v, j) => (
                <td key={j} style={{ color: j === 6 ? (v > 0 ? '#ff9f1a' : undefined) : undefined }}>
                  {j === 6 ? (v > 0 ? '●' : '○') : v.toFixed(3)}
                </td>
              ))}
            </tr>
            {recorded?.[i] && (
              <tr className="rec" title="recorded">
                <td>rec</td>
                {recorded[i].map((v, j) => (
                  <td key={j}>{j === 6 ? (v > 0 ? '●' : '○') : v.toFixed(3)}</td>
                ))}
              </tr>
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}
