import { useEffect, useState } from 'react';
import { PAGES, type PageId, pageFromHash } from './routes';
import { StatusArea } from './StatusArea';
import { PromptPage } from '../pages/PromptPage';
import { TeleopPage } from '../pages/TeleopPage';
import { RunsPage } from '../pages/RunsPage';

function usePage(): PageId {
  const [page, setPage] = useState<PageId>(() => pageFromHash(window.location.hash));
  useEffect(() => {
    const onHash = () => setPage(pageFromHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return page;
}

export function App() {
  const page = usePage();
  return (
    <div className="shell">
      <header>
        <h1>PixelVLA Studio</h1>
        <nav>
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} title={p.hint} aria-current={p.id === page ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <StatusArea />
      </header>
      <main>
        {page === 'prompt' && <PromptPage />}
        {page === 'teleop' && <TeleopPage />}
        {page === 'runs' && <RunsPage />}
      </main>
    </div>
  );
}
