import './base.css';
import './chips.css';
import './table.css';
import './runs.css';
import './charts.css';
import './detail.css';
import './footer.css';
