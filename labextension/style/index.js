import './base.css';
import './chips.css';
import './table.css';
import './charts.css';
import './footer.css';
